package ml

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/heir-emd/heir/internal/ml/dataset"
)

// MaxClasses bounds the classes a model can have (labels are stored as
// uint8 during training).
const MaxClasses = 255

// Task is a supervised problem: N rows of D float32 features and an integer
// class per row, with the class names.
type Task struct {
	Features []string
	Classes  []string
	X        []float32 // N×D row-major
	Y        []int
	N, D     int
}

// Row returns row i's features.
func (t *Task) Row(i int) []float32 { return t.X[i*t.D : (i+1)*t.D : (i+1)*t.D] }

// NewTask labels a dataset: relabel maps each row's label text to the class
// name the model learns (nil keeps the text). Classes are sorted by name so
// that the same data always gives the same class indices.
func NewTask(d *dataset.Dataset, relabel func(string) (string, error)) (*Task, error) {
	if d == nil || d.N == 0 {
		return nil, errors.New("task: no rows")
	}
	names := make([]string, d.N)
	seen := map[string]bool{}
	cache := map[string]string{}
	for i, raw := range d.Labels {
		name, ok := cache[raw]
		if !ok {
			name = raw
			if relabel != nil {
				var err error
				if name, err = relabel(raw); err != nil {
					return nil, fmt.Errorf("task: row %d: %w", i+1, err)
				}
			}
			cache[raw] = name
		}
		names[i] = name
		seen[name] = true
	}
	classes := make([]string, 0, len(seen))
	for c := range seen {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	if len(classes) > MaxClasses {
		return nil, fmt.Errorf("task: %d classes, at most %d supported", len(classes), MaxClasses)
	}
	index := make(map[string]int, len(classes))
	for i, c := range classes {
		index[c] = i
	}
	t := &Task{Features: d.Features, Classes: classes, X: d.X, N: d.N, D: d.D, Y: make([]int, d.N)}
	for i, n := range names {
		t.Y[i] = index[n]
	}
	return t, nil
}

// CICIoMT2024Task labels a CICIoMT2024 dataset at granularity g.
func CICIoMT2024Task(d *dataset.Dataset, g Granularity) (*Task, error) {
	return NewTask(d, func(s string) (string, error) {
		l, err := CICIoMT2024Label(s)
		if err != nil {
			return "", err
		}
		return l.At(g), nil
	})
}

// CICIoMT2024Spec is the dataset spec for the CICIoMT2024 flow CSVs: the
// label is attack_type; IAT is dropped because it encodes capture time
// (each capture file was recorded at another time, so it names the file);
// an empty cell (Std and Variance of a one-packet window) is 0, the spread
// of one value. "inf" (Rate over a zero-length window) stays +Inf.
func CICIoMT2024Spec() dataset.Spec {
	return dataset.Spec{Label: "attack_type", Drop: []string{"IAT"}, AllowMissing: true, Missing: 0}
}

// Subset returns the rows idx as a new task sharing the class list.
func (t *Task) Subset(idx []int) *Task {
	out := &Task{Features: t.Features, Classes: t.Classes, D: t.D, N: len(idx),
		X: make([]float32, 0, len(idx)*t.D), Y: make([]int, 0, len(idx))}
	for _, i := range idx {
		out.X = append(out.X, t.Row(i)...)
		out.Y = append(out.Y, t.Y[i])
	}
	return out
}

func (t *Task) validate() error {
	if t == nil || t.N == 0 {
		return errors.New("no training rows")
	}
	if t.D == 0 || len(t.Features) != t.D {
		return fmt.Errorf("%d feature names for %d columns", len(t.Features), t.D)
	}
	if len(t.X) != t.N*t.D || len(t.Y) != t.N {
		return fmt.Errorf("shape mismatch: %d values, %d labels for %d×%d", len(t.X), len(t.Y), t.N, t.D)
	}
	k := len(t.Classes)
	if k < 2 {
		return fmt.Errorf("%d class(es): a classifier needs at least 2", k)
	}
	if k > MaxClasses {
		return fmt.Errorf("%d classes, at most %d supported", k, MaxClasses)
	}
	for i, y := range t.Y {
		if y < 0 || y >= k {
			return fmt.Errorf("row %d: class %d out of range", i, y)
		}
	}
	for i, v := range t.X {
		if math.IsNaN(float64(v)) {
			return fmt.Errorf("row %d feature %q is NaN", i/t.D, t.Features[i%t.D])
		}
	}
	return nil
}
