// Package incidents keeps the alerts a detector has open, the way every
// heir detector reports them (the rule engine, internal/detect; the
// behaviour baselines, internal/baseline; the flow classifier,
// internal/mlsense): one incident is one alert ID, emitted when it opens,
// emitted again at most every update period while it changes, and emitted
// a last time (Final) when it has been quiet for its quiet period or is
// closed by its detector.
//
// A detector's incident type embeds Life; a Table holds the open ones and
// does the emitting and the counting. What an incident counts, how it is
// keyed and how it renders as an alert stay with the detector. The
// package depends on internal/event only. Like the detectors, it is
// single-threaded and runs on the time it is given (capture time), never
// the wall clock.
package incidents

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// Life is an incident's place in its Table and what the table needs to
// know to emit it. Detectors embed it in their incident type.
type Life struct {
	open, dirty, emitted bool
	idx                  int // position in Table.open
	lastEmit             time.Time
}

func (l *Life) life() *Life { return l }

// Open says the incident is in a table: its alert is not final yet.
func (l *Life) Open() bool { return l.open }

// Changed notes that the incident changed since its alert was last
// emitted, so that the next sweep due emits it again.
func (l *Life) Changed() { l.dirty = true }

// Member is an incident type that embeds Life.
type Member interface{ life() *Life }

// Sink receives the alerts (a detect.Sink is one). Each alert is a fresh
// value; one with the same ID replaces the previous one.
type Sink interface{ Alert(a *event.Alert) }

// Stats count a table's alerts: opened, emitted again while open, final.
type Stats struct {
	Opened, Updates, Final uint64
}

// Table is the set of a detector's open incidents. Set its exported
// fields before the first Add; they are not changed afterwards. Its
// methods allocate nothing but what Alert does (and the table's own
// growth up to the largest number open at once).
type Table[T Member] struct {
	// Sink receives every alert.
	Sink Sink
	// Alert renders an incident as a fresh alert record; final says it
	// is the incident's last.
	Alert func(in T, final bool) *event.Alert
	// Timing gives an incident's last event, how long after it the
	// incident's alert is final, and how often a changed incident is
	// emitted again.
	Timing func(in T) (last time.Time, quiet, update time.Duration)
	// Closed, if set, is called when an incident has been emitted a last
	// time and left the table, for the detector to forget it.
	Closed func(in T)

	// open is unordered: a closed incident's place goes to the last one.
	open  []T
	stats Stats
}

// Len returns the number of incidents open.
func (t *Table[T]) Len() int { return len(t.open) }

// At returns the i-th open incident, 0 <= i < Len(). Closing an incident
// moves the last one to its place.
func (t *Table[T]) At(i int) T { return t.open[i] }

// Stats returns the counters so far.
func (t *Table[T]) Stats() Stats { return t.stats }

// Add registers a new incident and emits its first alert. Bounding the
// number open is the detector's: it knows what to count when full.
func (t *Table[T]) Add(in T, now time.Time) {
	l := in.life()
	l.open = true
	l.idx = len(t.open)
	t.open = append(t.open, in)
	t.stats.Opened++
	t.emit(in, l, now, false)
}

// Close emits an open incident's final alert and removes it; it does
// nothing if the incident is not open.
func (t *Table[T]) Close(in T, now time.Time) {
	l := in.life()
	if !l.open {
		return
	}
	t.emit(in, l, now, true)
	t.stats.Final++
	last := len(t.open) - 1
	t.open[l.idx] = t.open[last]
	t.open[l.idx].life().idx = l.idx
	var zero T
	t.open[last] = zero
	t.open = t.open[:last]
	l.open = false
	if t.Closed != nil {
		t.Closed(in)
	}
}

// Sweep closes the incidents quiet for their quiet period and emits again
// the changed ones whose update period has passed since they were last
// emitted. Detectors call it once per second of event time.
func (t *Table[T]) Sweep(now time.Time) {
	for i := 0; i < len(t.open); {
		in := t.open[i]
		l := in.life()
		last, quiet, update := t.Timing(in)
		if now.Sub(last) >= quiet {
			// The last incident takes its place: look at i again.
			t.Close(in, now)
			continue
		}
		if l.dirty && now.Sub(l.lastEmit) >= update {
			t.emit(in, l, now, false)
		}
		i++
	}
}

// Flush closes every open incident, the most recently placed first, as at
// the end of a capture.
func (t *Table[T]) Flush(now time.Time) {
	for len(t.open) > 0 {
		t.Close(t.open[len(t.open)-1], now)
	}
}

func (t *Table[T]) emit(in T, l *Life, now time.Time, final bool) {
	a := t.Alert(in, final)
	if l.emitted && !final {
		t.stats.Updates++
	}
	l.emitted, l.dirty, l.lastEmit = true, false, now
	t.Sink.Alert(a)
}

// ID derives an alert's id from what identifies its incident (the rule,
// the key) and its start: the same capture gives the same ids.
func ID(start time.Time, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	h.Write([]byte(start.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(h.Sum(nil)[:8])
}
