package rama

import (
	"cmp"
	"math"
	"slices"
)

// Hospital is the Local RAMA: the hospital's score and its breakdown by
// device class (role) and by ENISA threat. Its score is driven by the
// riskiest devices and raised by the share of High and Critical ones, so
// that a thousand quiet devices cannot dilute a few critical ones:
//
//	score = T + (100 − T) × share_weight × min(1, share / share_saturation)
//
// with T the mean residual score of the top_k riskiest devices and share
// the part of devices in the High or Critical band. It never decreases
// when one device's score rises.
type Hospital struct {
	Score   float64    `json:"score"`
	Band    Band       `json:"band"`
	Devices int        `json:"devices"`
	Bands   BandCounts `json:"bands"`
	// TopK is the number of devices T is the mean of (top_k, or fewer
	// devices).
	TopK              int     `json:"top_k"`
	TopMean           float64 `json:"top_mean"`
	ShareHighCritical float64 `json:"share_high_critical"`
	ByRole            []Class `json:"by_role"`
	// ByENISA has one entry per threat with any points, most first; ID 0
	// gathers points of inputs with no ENISA category.
	ByENISA []Threat `json:"by_enisa"`
}

// BandCounts counts devices per band.
type BandCounts struct {
	Low      int `json:"low"`
	Medium   int `json:"medium"`
	High     int `json:"high"`
	Critical int `json:"critical"`
}

// Class is the roll-up of the devices of one role, with the same formula
// as the hospital's.
type Class struct {
	Role              string     `json:"role"`
	Devices           int        `json:"devices"`
	Score             float64    `json:"score"`
	Band              Band       `json:"band"`
	TopMean           float64    `json:"top_mean"`
	ShareHighCritical float64    `json:"share_high_critical"`
	Max               float64    `json:"max"`
	Bands             BandCounts `json:"bands"`
}

// Threat is the part of the hospital's risk due to one ENISA threat: the
// residual points its inputs bring, summed over devices.
type Threat struct {
	ID     int     `json:"id"`
	Name   string  `json:"name"`
	Points float64 `json:"points"`
	// Share of all residual points of the hospital.
	Share float64 `json:"share"`
	// Devices with at least 0.1 point from this threat.
	Devices int `json:"devices"`
	// Max is the most points one device has from this threat.
	Max float64 `json:"max"`
}

// histogram counts scores by tenths (0–1000). Integer tenths make the
// incremental roll-up exactly equal to a full one.
type histogram [1001]int32

type classRoll struct {
	n     int
	hist  histogram
	bands [4]int
}

func (c *classRoll) add(t10 uint16, band int, d int) {
	c.n += d
	c.hist[t10] += int32(d)
	c.bands[band] += d
}

// rollup is the hospital's aggregate state: counts only, so that one
// device's change is O(1).
type rollup struct {
	all      classRoll
	roles    map[string]*classRoll
	enisaSum [NumENISA + 1]int64
	enisaDev [NumENISA + 1]int32
	enisaMax [NumENISA + 1]histogram
}

func newRollup() *rollup { return &rollup{roles: map[string]*classRoll{}} }

func enisaTenths(x float32) uint16 { return tenths(float64(x)) }

// apply adds (d = 1) or removes (d = −1) one device's result.
func (r *rollup) apply(s *Scorer, role string, res *Result, d int) {
	band := bandIndex(res.Band)
	r.all.add(res.residual10, band, d)
	c := r.roles[role]
	if c == nil {
		c = &classRoll{}
		r.roles[role] = c
	}
	c.add(res.residual10, band, d)
	if c.n == 0 {
		delete(r.roles, role)
	}
	for id := range res.ENISA {
		t := enisaTenths(res.ENISA[id])
		if t == 0 {
			continue
		}
		r.enisaSum[id] += int64(d) * int64(t)
		r.enisaDev[id] += int32(d)
		r.enisaMax[id][t] += int32(d)
	}
}

// rollScore is the roll-up formula over one histogram.
func rollScore(h *histogram, n int, bands [4]int, cfg HospitalConfig) (score, topMean, share float64, k int) {
	if n == 0 {
		return 0, 0, 0, 0
	}
	k = min(cfg.TopK, n)
	need, sum := k, int64(0)
	for t := len(h) - 1; t >= 0 && need > 0; t-- {
		c := int(h[t])
		if c == 0 {
			continue
		}
		take := min(c, need)
		sum += int64(take) * int64(t)
		need -= take
	}
	topMean = float64(sum) / 10 / float64(k)
	share = float64(bands[2]+bands[3]) / float64(n)
	score = topMean + (100-topMean)*cfg.ShareWeight*min(1, share/cfg.ShareSaturation)
	return float64(tenths(score)) / 10, topMean, share, k
}

func maxOf(h *histogram) float64 {
	for t := len(h) - 1; t >= 0; t-- {
		if h[t] > 0 {
			return float64(t) / 10
		}
	}
	return 0
}

func counts(b [4]int) BandCounts {
	return BandCounts{Low: b[0], Medium: b[1], High: b[2], Critical: b[3]}
}

// hospital renders the roll-up.
func (r *rollup) hospital(s *Scorer) Hospital {
	cfg := s.hospital
	h := Hospital{Devices: r.all.n, Bands: counts(r.all.bands)}
	h.Score, h.TopMean, h.ShareHighCritical, h.TopK = rollScore(&r.all.hist, r.all.n, r.all.bands, cfg)
	h.Band = s.Band(h.Score)
	for role, c := range r.roles {
		cl := Class{Role: role, Devices: c.n, Bands: counts(c.bands), Max: maxOf(&c.hist)}
		cl.Score, cl.TopMean, cl.ShareHighCritical, _ = rollScore(&c.hist, c.n, c.bands, cfg)
		cl.Band = s.Band(cl.Score)
		h.ByRole = append(h.ByRole, cl)
	}
	slices.SortFunc(h.ByRole, func(a, b Class) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Role, b.Role)
	})
	var total int64
	for _, v := range r.enisaSum {
		total += v
	}
	for id := range r.enisaSum {
		if r.enisaSum[id] == 0 {
			continue
		}
		t := Threat{ID: id, Name: ENISAName(id), Points: float64(r.enisaSum[id]) / 10,
			Devices: int(r.enisaDev[id]), Max: maxOf(&r.enisaMax[id])}
		if total > 0 {
			t.Share = math.Round(float64(r.enisaSum[id])/float64(total)*1e4) / 1e4
		}
		h.ByENISA = append(h.ByENISA, t)
	}
	slices.SortFunc(h.ByENISA, func(a, b Threat) int {
		if c := cmp.Compare(b.Points, a.Points); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return h
}
