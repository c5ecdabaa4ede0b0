package rama

import (
	"cmp"
	"math"
	"math/bits"
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
// incremental roll-up exactly equal to a full one. A bitmap of the
// non-empty buckets lets the riskiest be found without walking all 1001.
type histogram struct {
	n  [1001]int32
	nz [16]uint64
}

func (h *histogram) add(t uint16, d int32) {
	h.n[t] += d
	if h.n[t] != 0 {
		h.nz[t>>6] |= 1 << (t & 63)
	} else {
		h.nz[t>>6] &^= 1 << (t & 63)
	}
}

// top returns the sum of the k highest scores (in tenths), or of all when
// fewer.
func (h *histogram) top(k int) int64 {
	var sum int64
	for w := len(h.nz) - 1; w >= 0 && k > 0; w-- {
		for word := h.nz[w]; word != 0 && k > 0; {
			b := 63 - bits.LeadingZeros64(word)
			word &^= 1 << b
			t := w<<6 | b
			take := min(int(h.n[t]), k)
			sum += int64(take) * int64(t)
			k -= take
		}
	}
	return sum
}

// max returns the highest score, 0 when empty.
func (h *histogram) max() float64 {
	for w := len(h.nz) - 1; w >= 0; w-- {
		if h.nz[w] != 0 {
			return float64(w<<6|(63-bits.LeadingZeros64(h.nz[w]))) / 10
		}
	}
	return 0
}

type classRoll struct {
	n     int
	hist  histogram
	bands [4]int
}

func (c *classRoll) add(t10 uint16, band int, d int) {
	c.n += d
	c.hist.add(t10, int32(d))
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
		r.enisaMax[id].add(t, int32(d))
	}
}

// rollScore is the roll-up formula over one histogram.
func rollScore(h *histogram, n int, bands [4]int, cfg HospitalConfig) (score, topMean, share float64, k int) {
	if n == 0 {
		return 0, 0, 0, 0
	}
	k = min(cfg.TopK, n)
	topMean = float64(h.top(k)) / 10 / float64(k)
	share = float64(bands[2]+bands[3]) / float64(n)
	score = topMean + (100-topMean)*cfg.ShareWeight*min(1, share/cfg.ShareSaturation)
	return float64(tenths(score)) / 10, topMean, share, k
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
		cl := Class{Role: role, Devices: c.n, Bands: counts(c.bands), Max: c.hist.max()}
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
			Devices: int(r.enisaDev[id]), Max: r.enisaMax[id].max()}
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
