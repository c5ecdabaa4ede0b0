package rama

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Engine holds the scored devices of one hospital and its roll-up. A full
// recompute scores every device in parallel; Upsert re-scores one device
// and updates the roll-up in constant time. It is safe for concurrent use.
type Engine struct {
	mu     sync.Mutex
	scorer *Scorer
	at     time.Time
	ids    map[string]int32
	ents   []entry
	// heads[t] is the first device whose residual score is t tenths; the
	// devices of one score form a doubly linked list through next/prev, so
	// that the riskiest are listed without sorting everything.
	heads [1001]int32
	roll  *rollup
}

type entry struct {
	dev        *Device
	role       string
	res        Result
	next, prev int32
}

// NewEngine returns an empty engine scoring with s.
func NewEngine(s *Scorer) *Engine {
	e := &Engine{scorer: s, ids: map[string]int32{}, roll: newRollup()}
	e.resetHeads()
	return e
}

func (e *Engine) resetHeads() {
	for i := range e.heads {
		e.heads[i] = -1
	}
}

// SetScorer replaces the scorer (a changed config); scores change at the
// next Recompute.
func (e *Engine) SetScorer(s *Scorer) {
	e.mu.Lock()
	e.scorer = s
	e.mu.Unlock()
}

// Scorer returns the engine's scorer.
func (e *Engine) Scorer() *Scorer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.scorer
}

// Load replaces the engine's devices with devs and scores them all at at.
// The engine keeps the pointers: do not change a device without passing
// it to Upsert again. Device ids must be unique.
func (e *Engine) Load(ctx context.Context, devs []*Device, at time.Time) error {
	ids := make(map[string]int32, len(devs))
	ents := make([]entry, len(devs))
	for i, d := range devs {
		if d == nil {
			return fmt.Errorf("rama load: device %d is nil", i)
		}
		if _, dup := ids[d.ID]; dup {
			return fmt.Errorf("rama load: device id %q given twice", d.ID)
		}
		ids[d.ID] = int32(i)
		ents[i] = entry{dev: d, role: d.Role}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.score(ctx, ents, at); err != nil {
		return err
	}
	e.ids, e.ents = ids, ents
	e.rebuild(at)
	return nil
}

// Recompute re-scores every device at at, with the current scorer.
func (e *Engine) Recompute(ctx context.Context, at time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.ents {
		e.ents[i].role = e.ents[i].dev.Role
	}
	if err := e.score(ctx, e.ents, at); err != nil {
		return err
	}
	e.rebuild(at)
	return nil
}

// score fills ents' results in parallel, one chunk per CPU.
func (e *Engine) score(ctx context.Context, ents []entry, at time.Time) error {
	s := e.scorer
	workers := runtime.GOMAXPROCS(0)
	g, ctx := errgroup.WithContext(ctx)
	chunk := (len(ents) + workers - 1) / workers
	for lo := 0; lo < len(ents); lo += chunk {
		hi := min(lo+chunk, len(ents))
		g.Go(func() error {
			sc := &scratch{}
			var o evalOut
			for i := lo; i < hi; i++ {
				// Check for cancellation now and then, not per device.
				if (i-lo)&4095 == 0 && ctx.Err() != nil {
					return fmt.Errorf("rama recompute: %w", ctx.Err())
				}
				s.eval(ents[i].dev, at, ^uint64(0), sc, &o)
				ents[i].res = o.Result
			}
			return nil
		})
	}
	return g.Wait()
}

// rebuild recomputes the roll-up and score lists from the results.
func (e *Engine) rebuild(at time.Time) {
	e.at = at
	e.roll = newRollup()
	e.resetHeads()
	for i := range e.ents {
		e.link(int32(i))
		e.roll.apply(e.scorer, e.ents[i].role, &e.ents[i].res, 1)
	}
}

func (e *Engine) link(i int32) {
	en := &e.ents[i]
	t := en.res.residual10
	en.prev, en.next = -1, e.heads[t]
	if en.next >= 0 {
		e.ents[en.next].prev = i
	}
	e.heads[t] = i
}

func (e *Engine) unlink(i int32) {
	en := &e.ents[i]
	if en.prev >= 0 {
		e.ents[en.prev].next = en.next
	} else {
		e.heads[en.res.residual10] = en.next
	}
	if en.next >= 0 {
		e.ents[en.next].prev = en.prev
	}
	en.prev, en.next = -1, -1
}

// Upsert scores d at at (adding it, or replacing the device with its id)
// and updates the roll-up incrementally. The engine keeps the pointer.
func (e *Engine) Upsert(d *Device, at time.Time) Result {
	e.mu.Lock()
	defer e.mu.Unlock()
	sc := e.scorer.pool.Get().(*scratch)
	var o evalOut
	e.scorer.eval(d, at, ^uint64(0), sc, &o)
	e.scorer.pool.Put(sc)
	i, ok := e.ids[d.ID]
	if ok {
		en := &e.ents[i]
		e.unlink(i)
		e.roll.apply(e.scorer, en.role, &en.res, -1)
	} else {
		i = int32(len(e.ents))
		e.ids[d.ID] = i
		e.ents = append(e.ents, entry{})
	}
	e.ents[i] = entry{dev: d, role: d.Role, res: o.Result}
	e.link(i)
	e.roll.apply(e.scorer, d.Role, &o.Result, 1)
	return o.Result
}

// Remove forgets the device with id id.
func (e *Engine) Remove(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.ids[id]
	if !ok {
		return false
	}
	en := &e.ents[i]
	e.unlink(i)
	e.roll.apply(e.scorer, en.role, &en.res, -1)
	delete(e.ids, id)
	last := int32(len(e.ents) - 1)
	if i != last {
		// Move the last entry into the hole and repoint its list neighbours.
		e.unlink(last)
		e.ents[i] = e.ents[last]
		e.ids[e.ents[i].dev.ID] = i
		e.link(i)
	}
	e.ents = e.ents[:last]
	return true
}

// Len returns the number of devices.
func (e *Engine) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ents)
}

// At returns the time of the last full scoring.
func (e *Engine) At() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.at
}

// Hospital returns the Local RAMA.
func (e *Engine) Hospital() Hospital {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.roll.hospital(e.scorer)
}

// Result returns the score of the device with id id.
func (e *Engine) Result(id string) (Result, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.ids[id]
	if !ok {
		return Result{}, false
	}
	return e.ents[i].res, true
}

// Device returns the device with id id.
func (e *Engine) Device(id string) (*Device, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.ids[id]
	if !ok {
		return nil, false
	}
	return e.ents[i].dev, true
}

// Ranked is one row of the riskiest-first list.
type Ranked struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Role string `json:"role,omitempty"`
	Result
	// Top names the input with the most residual points.
	Top string `json:"top,omitempty"`
}

// Riskiest returns the n devices with the highest residual score (all
// when n ≤ 0), ties broken by inherent score then id.
func (e *Engine) Riskiest(n int) []Ranked {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n <= 0 || n > len(e.ents) {
		n = len(e.ents)
	}
	out := make([]Ranked, 0, n)
	var bucket []int32
	for t := len(e.heads) - 1; t >= 0 && len(out) < n; t-- {
		bucket = bucket[:0]
		for i := e.heads[t]; i >= 0; i = e.ents[i].next {
			bucket = append(bucket, i)
		}
		slices.SortFunc(bucket, func(a, b int32) int {
			ea, eb := &e.ents[a], &e.ents[b]
			if c := cmp.Compare(eb.res.inherent10, ea.res.inherent10); c != 0 {
				return c
			}
			return cmp.Compare(ea.dev.ID, eb.dev.ID)
		})
		for _, i := range bucket {
			if len(out) == n {
				break
			}
			en := &e.ents[i]
			out = append(out, Ranked{ID: en.dev.ID, Name: en.dev.Name, Role: en.role, Result: en.res, Top: TopText(en.dev, en.res.Top)})
		}
	}
	return out
}

// TopText names one input of d for tables: "default-credentials (telnet)",
// "CVE-2019-0708 KEV".
func TopText(d *Device, r Ref) string {
	switch r.Kind {
	case KindVulnerability:
		if r.Index < len(d.Vulnerabilities) {
			v := d.Vulnerabilities[r.Index]
			if v.KEV {
				return v.ID + " KEV"
			}
			return v.ID
		}
	case KindFinding:
		if r.Index < len(d.Findings) {
			f := d.Findings[r.Index]
			if f.Detail != "" {
				return f.Kind + " (" + f.Detail + ")"
			}
			return f.Kind
		}
	case KindEOL:
		if r.Index < len(d.EOL) {
			return "end of life: " + d.EOL[r.Index].Name
		}
	case KindAlert:
		if r.Index < len(d.Alerts) {
			return "alert: " + d.Alerts[r.Index].Category
		}
	case KindExposure:
		if r.Index >= 0 && r.Index < len(exposureNames) {
			return exposureNames[r.Index]
		}
	}
	return ""
}

// Explain explains the score of the device with id id at at (the last
// scoring time when at is zero).
func (e *Engine) Explain(id string, at time.Time) (*Breakdown, bool) {
	e.mu.Lock()
	i, ok := e.ids[id]
	var d *Device
	s := e.scorer
	if ok {
		d = e.ents[i].dev
		if at.IsZero() {
			at = e.at
		}
	}
	e.mu.Unlock()
	if !ok {
		return nil, false
	}
	return s.Explain(d, at), true
}
