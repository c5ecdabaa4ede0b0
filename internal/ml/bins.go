package ml

import (
	"math"
	"slices"
	"sort"
)

// binned is the training matrix quantised per feature: bin(x) is the
// number of edges below x, so x <= edges[b] exactly when bin(x) <= b, and a
// split "bin <= b" becomes the threshold test x <= edges[b] at prediction.
type binned struct {
	n, d  int
	cols  []uint8 // d×n, column-major: split finding reads one feature
	rows  []uint8 // n×d, row-major: histogram building reads one row
	edges [][]float32
}

// nbins is how many bins feature f has.
func (b *binned) nbins(f int) int { return len(b.edges[f]) + 1 }

func binData(t *Task, maxBins int) *binned {
	b := &binned{n: t.N, d: t.D, cols: make([]uint8, t.N*t.D), rows: make([]uint8, t.N*t.D),
		edges: make([][]float32, t.D)}
	col := make([]float32, t.N)
	for f := 0; f < t.D; f++ {
		for i := 0; i < t.N; i++ {
			col[i] = t.X[i*t.D+f]
		}
		e := quantileEdges(col, maxBins)
		b.edges[f] = e
		dst := b.cols[f*t.N : (f+1)*t.N]
		for i := 0; i < t.N; i++ {
			v := t.X[i*t.D+f]
			bin := uint8(sort.Search(len(e), func(j int) bool { return v <= e[j] }))
			dst[i] = bin
			b.rows[i*t.D+f] = bin
		}
	}
	return b
}

// quantileEdges chooses at most maxBins-1 edges so that the bins hold about
// equal numbers of rows; a value that fills more than one quantile gets a
// bin of its own. Edges sit midway between neighbouring distinct values,
// so unseen values between them go to the nearer side. Infinities get bins
// of their own when present: the top edge is then the largest finite value.
// It sorts vals in place.
func quantileEdges(vals []float32, maxBins int) []float32 {
	slices.Sort(vals)
	lo, hi := 0, len(vals)
	for lo < hi && math.IsInf(float64(vals[lo]), -1) {
		lo++
	}
	for hi > lo && math.IsInf(float64(vals[hi-1]), 1) {
		hi--
	}
	fin := vals[lo:hi]
	var edges []float32
	if lo > 0 && len(fin) > 0 {
		edges = append(edges, math.Nextafter32(fin[0], float32(math.Inf(-1))))
	}
	room := maxBins - 1 - len(edges)
	if hi < len(vals) {
		room-- // keep one edge for +Inf
	}
	// distinct values
	distinct := 0
	for i := range fin {
		if i == 0 || fin[i] != fin[i-1] {
			distinct++
		}
	}
	if distinct <= room+1 {
		for i := 1; i < len(fin); i++ {
			if fin[i] != fin[i-1] {
				edges = append(edges, midpoint(fin[i-1], fin[i]))
			}
		}
	} else {
		// Quantile cut positions; each cut goes after the value at that
		// rank, i.e. between it and the next larger distinct value.
		nb := room + 1
		last := float32(math.Inf(-1))
		for j := 1; j < nb; j++ {
			pos := j * len(fin) / nb
			if pos <= 0 || pos >= len(fin) {
				continue
			}
			v := fin[pos-1]
			if v <= last {
				continue
			}
			// next distinct value above v
			k := sort.Search(len(fin), func(i int) bool { return fin[i] > v })
			if k >= len(fin) {
				break
			}
			edges = append(edges, midpoint(v, fin[k]))
			last = v
		}
	}
	if hi < len(vals) && len(fin) > 0 {
		edges = append(edges, fin[len(fin)-1])
	}
	return edges
}

// midpoint returns a float32 m with a <= m < b for a < b.
func midpoint(a, b float32) float32 {
	m := float32((float64(a) + float64(b)) / 2)
	if m >= b || m < a {
		return a
	}
	return m
}
