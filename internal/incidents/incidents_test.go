package incidents

import (
	"slices"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

type inc struct {
	Life
	name string
	end  time.Time
}

type sink struct{ got []string }

func (s *sink) Alert(a *event.Alert) {
	w := a.ID
	if a.Final {
		w += " final"
	}
	s.got = append(s.got, w)
}

var t0 = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// newTable returns a table with a quiet period of 10 s and updates every
// 3 s, recording what it emits and closes.
func newTable() (*Table[*inc], *sink, *[]string) {
	s := &sink{}
	closed := &[]string{}
	t := &Table[*inc]{
		Sink:  s,
		Alert: func(in *inc, final bool) *event.Alert { return &event.Alert{ID: in.name, Final: final} },
		Timing: func(in *inc) (time.Time, time.Duration, time.Duration) {
			return in.end, 10 * time.Second, 3 * time.Second
		},
	}
	t.Closed = func(in *inc) {
		if in.Open() || slices.Contains(t.open, in) {
			panic(in.name + " closed but still in the table")
		}
		*closed = append(*closed, in.name)
	}
	return t, s, closed
}

func names(t *Table[*inc]) []string {
	var out []string
	for i := range t.Len() {
		out = append(out, t.At(i).name)
	}
	return out
}

func TestLifecycle(t *testing.T) {
	tab, s, closed := newTable()
	a, b := &inc{name: "a", end: sec(0)}, &inc{name: "b", end: sec(0)}
	tab.Add(a, sec(0))
	tab.Add(b, sec(0))
	if !a.Open() || tab.Len() != 2 {
		t.Fatalf("after Add: open %v, %d in the table", a.Open(), tab.Len())
	}
	a.end = sec(1)
	a.Changed()
	tab.Sweep(sec(2)) // a changed, but its update is not due: nothing
	tab.Sweep(sec(3)) // due now
	if len(s.got) != 3 {
		t.Fatalf("update due at 3 s: emitted %q", s.got)
	}
	tab.Sweep(sec(4)) // not changed since: nothing
	b.end = sec(4)
	b.Changed()
	tab.Sweep(sec(10)) // b is updated; a, quiet since 1 s, is not yet final
	if len(s.got) != 4 {
		t.Fatalf("a final before 10 s of quiet: emitted %q", s.got)
	}
	tab.Sweep(sec(11)) // a is final
	tab.Close(a, sec(12))
	tab.Sweep(sec(14)) // b final
	want := []string{"a", "b", "a", "b", "a final", "b final"}
	if !slices.Equal(s.got, want) {
		t.Errorf("emitted %q, want %q", s.got, want)
	}
	if !slices.Equal(*closed, []string{"a", "b"}) || tab.Len() != 0 || a.Open() || b.Open() {
		t.Errorf("closed %q, %d still in the table", *closed, tab.Len())
	}
	if st := tab.Stats(); st != (Stats{Opened: 2, Updates: 2, Final: 2}) {
		t.Errorf("stats %+v", st)
	}
}

// A closed incident's place goes to the last one, and the table still
// finds every incident it holds.
func TestSwapRemove(t *testing.T) {
	tab, s, closed := newTable()
	var all []*inc
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		in := &inc{name: n, end: sec(0)}
		all = append(all, in)
		tab.Add(in, sec(0))
	}
	tab.Close(all[1], sec(1))
	if got := names(tab); !slices.Equal(got, []string{"a", "e", "c", "d"}) {
		t.Errorf("after closing b: %q", got)
	}
	tab.Close(all[4], sec(1)) // e, moved to b's place
	tab.Close(all[4], sec(1)) // again: nothing
	if got := names(tab); !slices.Equal(got, []string{"a", "d", "c"}) {
		t.Errorf("after closing e: %q", got)
	}
	// Sweep closes in place and looks at what moved there.
	all[2].end = sec(5)
	tab.Sweep(sec(10))
	if got := names(tab); !slices.Equal(got, []string{"c"}) {
		t.Errorf("after the sweep: %q", got)
	}
	tab.Flush(sec(11))
	if !slices.Equal(*closed, []string{"b", "e", "a", "d", "c"}) || tab.Len() != 0 {
		t.Errorf("closed %q", *closed)
	}
	if n := len(s.got); n != 5+5 {
		t.Errorf("%d alerts, want 10: %q", n, s.got)
	}
}

// Flush closes the last placed first.
func TestFlushOrder(t *testing.T) {
	tab, _, closed := newTable()
	for _, n := range []string{"a", "b", "c"} {
		tab.Add(&inc{name: n, end: sec(0)}, sec(0))
	}
	tab.Flush(sec(1))
	if !slices.Equal(*closed, []string{"c", "b", "a"}) {
		t.Errorf("closed %q", *closed)
	}
}

// Opening, updating and closing allocate nothing but the alerts once the
// table has grown.
func TestAllocs(t *testing.T) {
	a := &event.Alert{}
	tab := &Table[*inc]{
		Sink:  discard{},
		Alert: func(*inc, bool) *event.Alert { return a },
		Timing: func(in *inc) (time.Time, time.Duration, time.Duration) {
			return in.end, time.Minute, time.Second
		},
	}
	x, y := &inc{end: sec(0)}, &inc{end: sec(0)}
	n := testing.AllocsPerRun(100, func() {
		tab.Add(x, sec(0))
		tab.Add(y, sec(0))
		x.Changed()
		tab.Sweep(sec(2))
		tab.Close(x, sec(3))
		tab.Flush(sec(4))
	})
	if n != 0 {
		t.Errorf("%v allocations per cycle", n)
	}
}

type discard struct{}

func (discard) Alert(*event.Alert) {}

// Alert ids stay what they have been: stores deduplicate on them.
func TestID(t *testing.T) {
	start := time.Date(2026, 11, 28, 15, 43, 40, 123456000, time.FixedZone("CET", 3600))
	if id := ID(start, "port-scan", "10.0.0.1"); id != "cb72aaa3f1815313" {
		t.Errorf("ID = %s", id)
	}
	if ID(start, "port-scan", "10.0.0.1") == ID(start, "port-scan10.0.0.1") || ID(start, "a", "b") == ID(start.Add(1), "a", "b") {
		t.Error("ids of different incidents are the same")
	}
}
