package rama

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Day is a calendar day, "2026-11-28", in the hospital's time zone.
type Day string

// DayOf returns the day of t in loc (UTC when nil).
func DayOf(t time.Time, loc *time.Location) Day {
	if loc == nil {
		loc = time.UTC
	}
	return Day(t.In(loc).Format(time.DateOnly))
}

// Time returns the start of the day in loc (UTC when nil).
func (d Day) Time(loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	t, err := time.ParseInLocation(time.DateOnly, string(d), loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("rama day %q: %w", string(d), err)
	}
	return t, nil
}

// DeviceSnapshot is one device's score on one day, what the store keeps
// per day for trends.
type DeviceSnapshot struct {
	Day      Day     `json:"day"`
	Device   string  `json:"device"`
	Role     string  `json:"role,omitempty"`
	Inherent float64 `json:"inherent"`
	Residual float64 `json:"residual"`
	Band     Band    `json:"band"`
	Floor    bool    `json:"floor,omitempty"`
	// Top names the input with the most residual points.
	Top string `json:"top,omitempty"`
}

// HospitalSnapshot is the Local RAMA on one day.
type HospitalSnapshot struct {
	Day               Day                `json:"day"`
	Score             float64            `json:"score"`
	Band              Band               `json:"band"`
	Devices           int                `json:"devices"`
	Bands             BandCounts         `json:"bands"`
	TopMean           float64            `json:"top_mean"`
	ShareHighCritical float64            `json:"share_high_critical"`
	ByRole            map[string]float64 `json:"by_role"`
	// ByENISA holds each threat's share of the residual points, keyed by
	// its number ("0" unclassified).
	ByENISA map[string]float64 `json:"by_enisa"`
}

// Snapshot takes the engine's current scores as the snapshot of day: one
// record per device, sorted by id, and the hospital's. Persisting them is
// the store's job.
func (e *Engine) Snapshot(day Day) (HospitalSnapshot, []DeviceSnapshot) {
	h := e.Hospital()
	e.mu.Lock()
	devs := make([]DeviceSnapshot, 0, len(e.ents))
	for i := range e.ents {
		en := &e.ents[i]
		devs = append(devs, DeviceSnapshot{Day: day, Device: en.dev.ID, Role: en.role, Inherent: en.res.Inherent,
			Residual: en.res.Residual, Band: en.res.Band, Floor: en.res.Floor, Top: TopText(en.dev, en.res.Top)})
	}
	e.mu.Unlock()
	slices.SortFunc(devs, func(a, b DeviceSnapshot) int { return cmp.Compare(a.Device, b.Device) })
	return HospitalSnapshotOf(day, h), devs
}

// HospitalSnapshotOf condenses a Local RAMA into a day's snapshot.
func HospitalSnapshotOf(day Day, h Hospital) HospitalSnapshot {
	s := HospitalSnapshot{Day: day, Score: h.Score, Band: h.Band, Devices: h.Devices, Bands: h.Bands,
		TopMean: h.TopMean, ShareHighCritical: h.ShareHighCritical,
		ByRole: map[string]float64{}, ByENISA: map[string]float64{}}
	for _, c := range h.ByRole {
		s.ByRole[c.Role] = c.Score
	}
	for _, t := range h.ByENISA {
		s.ByENISA[fmt.Sprint(t.ID)] = t.Share
	}
	return s
}

// Point is one day's value of a series.
type Point struct {
	Day   Day     `json:"day"`
	Value float64 `json:"value"`
}

// Trend summarises a series of daily values.
type Trend struct {
	From   Day     `json:"from"`
	To     Day     `json:"to"`
	First  float64 `json:"first"`
	Last   float64 `json:"last"`
	Change float64 `json:"change"`
	// Slope is the least-squares slope in points per day (days counted
	// from the calendar, so missing days do not bend it).
	Slope float64 `json:"slope"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	// Direction is rising or falling when the slope moves the score by at
	// least a point a week, else steady.
	Direction string `json:"direction"`
}

// steadySlope is the slope, in points per day, under which a series is
// called steady: one point a week is within the noise of daily inputs.
const steadySlope = 1.0 / 7

// TrendOf summarises points (any order; days that do not parse are
// skipped). It returns false when fewer than one point remains.
func TrendOf(points []Point) (Trend, bool) {
	type xy struct {
		x float64
		y float64
		d Day
	}
	var ps []xy
	for _, p := range points {
		t, err := p.Day.Time(time.UTC)
		if err != nil || math.IsNaN(p.Value) {
			continue
		}
		ps = append(ps, xy{x: float64(t.Unix()) / 86400, y: p.Value, d: p.Day})
	}
	if len(ps) == 0 {
		return Trend{}, false
	}
	slices.SortFunc(ps, func(a, b xy) int { return cmp.Compare(a.x, b.x) })
	tr := Trend{From: ps[0].d, To: ps[len(ps)-1].d, First: ps[0].y, Last: ps[len(ps)-1].y, Min: ps[0].y, Max: ps[0].y}
	tr.Change = tr.Last - tr.First
	var mx, my float64
	for _, p := range ps {
		mx += p.x
		my += p.y
		tr.Min, tr.Max = min(tr.Min, p.y), max(tr.Max, p.y)
	}
	mx /= float64(len(ps))
	my /= float64(len(ps))
	var sxy, sxx float64
	for _, p := range ps {
		sxy += (p.x - mx) * (p.y - my)
		sxx += (p.x - mx) * (p.x - mx)
	}
	if sxx > 0 {
		tr.Slope = sxy / sxx
	}
	switch {
	case tr.Slope >= steadySlope:
		tr.Direction = "rising"
	case tr.Slope <= -steadySlope:
		tr.Direction = "falling"
	default:
		tr.Direction = "steady"
	}
	return tr, true
}

// DeviceSeries extracts one device's residual scores from snapshots.
func DeviceSeries(snaps []DeviceSnapshot, device string) []Point {
	var out []Point
	for _, s := range snaps {
		if s.Device == device {
			out = append(out, Point{Day: s.Day, Value: s.Residual})
		}
	}
	return out
}

// HospitalSeries extracts the Local RAMA from snapshots.
func HospitalSeries(snaps []HospitalSnapshot) []Point {
	out := make([]Point, 0, len(snaps))
	for _, s := range snaps {
		out = append(out, Point{Day: s.Day, Value: s.Score})
	}
	return out
}

// Move is one device's change between two snapshots.
type Move struct {
	Device   string  `json:"device"`
	From     float64 `json:"from"`
	To       float64 `json:"to"`
	Change   float64 `json:"change"`
	FromBand Band    `json:"from_band"`
	ToBand   Band    `json:"to_band"`
	Top      string  `json:"top,omitempty"`
}

// Movers compares two days' device snapshots and returns the n largest
// changes of residual score (devices new on the later day count from 0,
// devices gone count to 0), largest absolute change first.
func Movers(before, after []DeviceSnapshot, n int) []Move {
	prev := make(map[string]DeviceSnapshot, len(before))
	for _, s := range before {
		prev[s.Device] = s
	}
	var out []Move
	seen := make(map[string]bool, len(after))
	for _, s := range after {
		seen[s.Device] = true
		p, ok := prev[s.Device]
		m := Move{Device: s.Device, To: s.Residual, ToBand: s.Band, Top: s.Top, FromBand: BandLow}
		if ok {
			m.From, m.FromBand = p.Residual, p.Band
		}
		m.Change = math.Round((m.To-m.From)*10) / 10
		if m.Change != 0 || m.FromBand != m.ToBand {
			out = append(out, m)
		}
	}
	for _, p := range before {
		if !seen[p.Device] && p.Residual != 0 {
			out = append(out, Move{Device: p.Device, From: p.Residual, FromBand: p.Band, ToBand: BandLow, Change: -p.Residual})
		}
	}
	slices.SortFunc(out, func(a, b Move) int {
		if c := cmp.Compare(math.Abs(b.Change), math.Abs(a.Change)); c != 0 {
			return c
		}
		return cmp.Compare(a.Device, b.Device)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
