package mlsense

import (
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

type discard struct{}

func (discard) Alert(*event.Alert)     {}
func (discard) Finding(*event.Finding) {}

// BenchmarkFlow scores a flood's flows, one per millisecond of capture
// time, into one open incident: the steady state of a live attack, with
// the sweep emitting an update every 10 s of it.
func BenchmarkFlow(b *testing.B) {
	s, err := New(Config{Model: synModel(b)}, discard{})
	if err != nil {
		b.Fatal(err)
	}
	f := flow("a", t0, "198.51.100.1", "10.0.0.5", 1, 443, "tcp", 1, 1, 60)
	s.Flow(f)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f.Start = t0.Add(time.Duration(i) * time.Millisecond)
		f.End = f.Start.Add(time.Millisecond)
		s.Flow(f)
	}
	b.StopTimer()
	if st := s.Stats(); st.AlertsOpened != 1 || st.Attacks != uint64(b.N)+1 {
		b.Fatalf("stats %+v", st)
	}
}
