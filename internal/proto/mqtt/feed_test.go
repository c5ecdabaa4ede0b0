package mqtt

import (
	"net/netip"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// recorder is a proto.Sink that keeps what it is given.
type recorder struct{ obs []*event.Observation }

func (r *recorder) Observe(o *event.Observation) { r.obs = append(r.obs, o) }

func (r *recorder) kind(k string) []*event.Observation {
	var out []*event.Observation
	for _, o := range r.obs {
		if o.Kind == k {
			out = append(out, o)
		}
	}
	return out
}

func testConn() *proto.Conn {
	return &proto.Conn{
		ID:        "test",
		Transport: proto.TCP,
		Client:    event.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 40000},
		Server:    event.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: 1883},
		Proto:     "mqtt",
	}
}

// maxHeld mirrors the engine's default bound on bytes held for a session.
const maxHeld = 256 << 10

// feeder drives a session as the flow engine does: bytes a Feed did not
// consume are offered again before the next chunk, consumed beyond the
// data skips that many bytes, and holding too much becomes a gap.
type feeder struct {
	s    proto.Session
	held [2][]byte
	skip [2]int
	done bool
	t    time.Time
	n    uint64
}

func newFeeder(s proto.Session) *feeder {
	return &feeder{s: s, t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *feeder) meta() proto.Meta {
	f.n++
	f.t = f.t.Add(time.Millisecond)
	return proto.Meta{Time: f.t, Frame: f.n}
}

func (f *feeder) feed(dir proto.Dir, chunk []byte) {
	if f.done || len(chunk) == 0 {
		return
	}
	if k := min(f.skip[dir], len(chunk)); k > 0 {
		f.skip[dir] -= k
		chunk = chunk[k:]
		if len(chunk) == 0 {
			return
		}
	}
	buf := append(append([]byte(nil), f.held[dir]...), chunk...)
	n, done := f.s.Feed(dir, buf, f.meta())
	if done {
		f.done = true
		return
	}
	if n < 0 {
		n = 0
	}
	if n >= len(buf) {
		f.skip[dir] += n - len(buf)
		f.held[dir] = nil
		return
	}
	f.held[dir] = append([]byte(nil), buf[n:]...)
	if len(f.held[dir]) > maxHeld {
		lost := len(f.held[dir])
		f.held[dir] = nil
		f.s.Gap(dir, lost)
	}
}

func (f *feeder) gap(dir proto.Dir, n int) {
	lost := n + len(f.held[dir])
	f.held[dir] = nil
	f.skip[dir] = 0
	f.s.Gap(dir, lost)
}

func (f *feeder) end() { f.s.End(f.meta()) }
