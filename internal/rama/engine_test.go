package rama

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
)

// After any sequence of upserts and removals, the incrementally kept
// roll-up equals a full recompute of the same devices.
func TestEngineIncrementalEqualsFull(t *testing.T) {
	s := defaultScorer(t)
	devs := variedDevices(4000, 21)
	pool := variedDevices(4000, 22)
	e := NewEngine(s)
	if err := e.Load(context.Background(), devs[:3000], testAt); err != nil {
		t.Fatal(err)
	}
	cur := map[string]*Device{}
	for _, d := range devs[:3000] {
		cur[d.ID] = d
	}
	r := rand.New(rand.NewPCG(23, 23))
	for step := range 5000 {
		switch x := r.IntN(10); {
		case x < 6: // change a device
			id := devs[r.IntN(3000)].ID
			d := clone(pool[r.IntN(len(pool))])
			d.ID = id
			e.Upsert(d, testAt)
			cur[id] = d
		case x < 8: // new device
			d := clone(devs[3000+r.IntN(1000)])
			e.Upsert(d, testAt)
			cur[d.ID] = d
		default:
			id := devs[r.IntN(len(devs))].ID
			_, had := cur[id]
			if e.Remove(id) != had {
				t.Fatalf("step %d: Remove(%s) disagrees", step, id)
			}
			delete(cur, id)
		}
	}
	var all []*Device
	for _, d := range cur {
		all = append(all, d)
	}
	slices.SortFunc(all, func(a, b *Device) int { return compareStrings(a.ID, b.ID) })
	full := NewEngine(s)
	if err := full.Load(context.Background(), all, testAt); err != nil {
		t.Fatal(err)
	}
	if e.Len() != full.Len() {
		t.Fatalf("len %d, full %d", e.Len(), full.Len())
	}
	hi, hf := e.Hospital(), full.Hospital()
	if !reflect.DeepEqual(hi, hf) {
		t.Errorf("incremental hospital\n%+v\nfull\n%+v", hi, hf)
	}
	ri, rf := e.Riskiest(0), full.Riskiest(0)
	if !reflect.DeepEqual(ri, rf) {
		t.Errorf("riskiest lists differ")
	}
	for i := 1; i < len(ri); i++ {
		a, b := ri[i-1], ri[i]
		if a.Residual < b.Residual || (a.Residual == b.Residual && (a.Inherent < b.Inherent || (a.Inherent == b.Inherent && a.ID > b.ID))) {
			t.Fatalf("riskiest out of order at %d: %+v then %+v", i, a, b)
		}
	}
	if got := e.Riskiest(5); len(got) != 5 || !reflect.DeepEqual(got, ri[:5]) {
		t.Errorf("Riskiest(5) = %+v", got)
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestEngineLoadErrors(t *testing.T) {
	e := NewEngine(defaultScorer(t))
	err := e.Load(context.Background(), []*Device{{ID: "a"}, {ID: "a"}}, testAt)
	if err == nil || err.Error() != `rama load: device id "a" given twice` {
		t.Errorf("duplicate: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = e.Load(ctx, variedDevices(10, 1), testAt)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if e.Len() != 0 {
		t.Errorf("a failed load kept %d devices", e.Len())
	}
}

// A changed weight changes scores at the next recompute.
func TestEngineConfigChange(t *testing.T) {
	e := NewEngine(defaultScorer(t))
	d := &Device{ID: "pm", Role: "patient-monitor", Findings: []Finding{{Kind: "default-credentials", Severity: "high"}}}
	if err := e.Load(context.Background(), []*Device{d}, testAt); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.Result("pm"); r.Residual != 81.9 { // 100 × 0.9 × 0.91
		t.Fatalf("before: %v", r.Residual)
	}
	c, err := ParseConfig("site.yaml", []byte("findings:\n  kinds:\n    default-credentials: {weight: 0.5, enisa: [12]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := NewScorer(c)
	if err != nil {
		t.Fatal(err)
	}
	e.SetScorer(s2)
	if r, _ := e.Result("pm"); r.Residual != 81.9 {
		t.Fatalf("changed before the recompute: %v", r.Residual)
	}
	if err := e.Recompute(context.Background(), testAt); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.Result("pm"); r.Residual != 45.5 { // 100 × 0.5 × 0.91
		t.Errorf("after: %v", r.Residual)
	}
	if h := e.Hospital(); h.Score != 45.5 || h.Devices != 1 {
		t.Errorf("hospital %+v", h)
	}
}

// Upserts and reads from many goroutines (run with -race).
func TestEngineConcurrent(t *testing.T) {
	e := NewEngine(defaultScorer(t))
	devs := variedDevices(400, 31)
	if err := e.Load(context.Background(), devs[:200], testAt); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(devs); i += 4 {
				e.Upsert(clone(devs[i]), testAt)
				e.Hospital()
				e.Riskiest(3)
				if i%7 == 0 {
					e.Remove(devs[i/2].ID)
				}
			}
		}()
	}
	wg.Wait()
	if h := e.Hospital(); h.Devices != e.Len() {
		t.Errorf("hospital counts %d devices, engine holds %d", h.Devices, e.Len())
	}
}
