package rama

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestDayOf(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	late := time.Date(2026, 11, 28, 23, 30, 0, 0, time.UTC)
	if d := DayOf(late, nil); d != "2026-11-28" {
		t.Errorf("UTC: %s", d)
	}
	if d := DayOf(late, paris); d != "2026-11-29" {
		t.Errorf("Paris: %s", d)
	}
	start, err := Day("2026-11-29").Time(paris)
	if err != nil || !start.Equal(time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("start %v %v", start, err)
	}
	if _, err := Day("29/11/2026").Time(nil); err == nil {
		t.Error("bad day accepted")
	}
}

func TestSnapshot(t *testing.T) {
	e := NewEngine(defaultScorer(t))
	devs := []*Device{
		{ID: "b", Role: "patient-monitor", Findings: []Finding{{Kind: "default-credentials", Severity: "high"}}},
		{ID: "a", Role: "workstation", Vulnerabilities: []Vulnerability{{ID: "CVE-2017-0147", CVSS: 5.9, KEV: true}}},
		{ID: "c", Role: "workstation"},
	}
	if err := e.Load(context.Background(), devs, testAt); err != nil {
		t.Fatal(err)
	}
	h, ds := e.Snapshot("2026-11-28")
	if len(ds) != 3 || ds[0].Device != "a" || ds[1].Device != "b" || ds[2].Device != "c" {
		t.Fatalf("devices %+v", ds)
	}
	if ds[0].Residual != 75 || !ds[0].Floor || ds[0].Top != "CVE-2017-0147 KEV" || ds[0].Band != BandHigh || ds[0].Day != "2026-11-28" {
		t.Errorf("a: %+v", ds[0])
	}
	if ds[1].Residual != 81.9 || ds[1].Top != "default-credentials" || ds[2].Residual != 0 || ds[2].Top != "" {
		t.Errorf("b, c: %+v %+v", ds[1], ds[2])
	}
	// Top-3 mean (81.9 + 75 + 0) / 3 = 52.3; 2 of 3 high: full lift,
	// 52.3 + 47.7 × 0.5 = 76.15.
	if h.Devices != 3 || h.Bands.High != 2 || math.Abs(h.TopMean-52.3) > 1e-9 || h.Score != 76.2 || h.Band != BandHigh {
		t.Errorf("hospital %+v", h)
	}
	// Monitors: 81.9, all high: 81.9 + 18.1 × 0.5 = 90.95. Workstations:
	// mean 37.5, half high: 37.5 + 62.5 × 0.5 = 68.75.
	if math.Abs(h.ByRole["patient-monitor"]-90.95) > 0.051 || math.Abs(h.ByRole["workstation"]-68.75) > 0.051 {
		t.Errorf("by role %v", h.ByRole)
	}
	if h.ByENISA["12"] == 0 || h.ByENISA["1"] == 0 {
		t.Errorf("by ENISA %v", h.ByENISA)
	}
}

func TestTrend(t *testing.T) {
	// 10, 12, 14 on three days a day apart: slope 2 a day.
	tr, ok := TrendOf([]Point{{"2026-11-03", 14}, {"2026-11-01", 10}, {"2026-11-02", 12}, {"bad", 99}})
	if !ok || tr.From != "2026-11-01" || tr.To != "2026-11-03" || tr.First != 10 || tr.Last != 14 || tr.Change != 4 ||
		math.Abs(tr.Slope-2) > 1e-9 || tr.Min != 10 || tr.Max != 14 || tr.Direction != "rising" {
		t.Errorf("%+v", tr)
	}
	// A missing day does not bend the slope: 10 on day 1, 40 on day 4.
	tr, _ = TrendOf([]Point{{"2026-11-01", 10}, {"2026-11-04", 40}})
	if math.Abs(tr.Slope-10) > 1e-9 {
		t.Errorf("slope %v", tr.Slope)
	}
	tr, _ = TrendOf([]Point{{"2026-11-01", 50}, {"2026-11-08", 50.5}})
	if tr.Direction != "steady" {
		t.Errorf("%+v", tr)
	}
	tr, _ = TrendOf([]Point{{"2026-11-01", 50}, {"2026-11-08", 40}})
	if tr.Direction != "falling" {
		t.Errorf("%+v", tr)
	}
	if _, ok := TrendOf(nil); ok {
		t.Error("empty series")
	}
	if tr, ok := TrendOf([]Point{{"2026-11-01", 5}}); !ok || tr.Slope != 0 || tr.Direction != "steady" {
		t.Errorf("one point: %+v", tr)
	}
}

func TestSeriesAndMovers(t *testing.T) {
	d1 := []DeviceSnapshot{{Day: "2026-11-01", Device: "a", Residual: 20, Band: BandLow}, {Day: "2026-11-01", Device: "b", Residual: 80, Band: BandHigh},
		{Day: "2026-11-01", Device: "gone", Residual: 50, Band: BandMedium}, {Day: "2026-11-01", Device: "same", Residual: 30, Band: BandLow}}
	d2 := []DeviceSnapshot{{Day: "2026-11-02", Device: "a", Residual: 92, Band: BandCritical, Top: "x"}, {Day: "2026-11-02", Device: "b", Residual: 70, Band: BandHigh},
		{Day: "2026-11-02", Device: "new", Residual: 5, Band: BandLow}, {Day: "2026-11-02", Device: "same", Residual: 30, Band: BandLow}}
	m := Movers(d1, d2, 0)
	if len(m) != 4 || m[0].Device != "a" || m[0].Change != 72 || m[0].FromBand != BandLow || m[0].ToBand != BandCritical ||
		m[1].Device != "gone" || m[1].Change != -50 || m[2].Device != "b" || m[3].Device != "new" || m[3].From != 0 {
		t.Errorf("%+v", m)
	}
	if len(Movers(d1, d2, 2)) != 2 {
		t.Error("n ignored")
	}
	s := DeviceSeries(append(d1, d2...), "a")
	if len(s) != 2 || s[1].Value != 92 {
		t.Errorf("%+v", s)
	}
	hs := HospitalSeries([]HospitalSnapshot{{Day: "2026-11-01", Score: 40}, {Day: "2026-11-02", Score: 45}})
	if len(hs) != 2 || hs[1].Value != 45 {
		t.Errorf("%+v", hs)
	}
}
