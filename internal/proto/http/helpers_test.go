package httpproto

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// sink records observations.
type sink struct{ obs []*event.Observation }

func (s *sink) Observe(o *event.Observation) { s.obs = append(s.obs, o) }

// checker is a DefaultChecker that knows one pair and counts calls.
type checker struct {
	user, password string
	calls          int
}

func (c *checker) IsDefault(u, p string) bool {
	c.calls++
	return u == c.user && p == c.password
}

func testConn() *proto.Conn {
	return &proto.Conn{
		ID:        "test-flow",
		Transport: proto.TCP,
		Client:    event.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 40000},
		Server:    event.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: 80},
		Proto:     "http",
	}
}

// feeder plays the engine's part for one session: it holds what the
// session did not consume and skips what it asked to skip.
type feeder struct {
	t       testing.TB
	s       proto.Session
	held    [2][]byte
	skip    [2]int
	done    bool
	maxHeld int
	skipped int // bytes skipped unseen
	frame   uint64
}

func newFeeder(t testing.TB, c DefaultChecker) (*feeder, *sink) {
	out := &sink{}
	d := New(c)
	return &feeder{t: t, s: d.New(testConn(), out)}, out
}

func (f *feeder) feed(dir proto.Dir, data []byte) {
	if f.done {
		return
	}
	if k := min(f.skip[dir], len(data)); k > 0 {
		f.skip[dir] -= k
		f.skipped += k
		data = data[k:]
	}
	if len(data) == 0 {
		return
	}
	buf := append(f.held[dir], data...)
	f.frame++
	n, done := f.s.Feed(dir, buf, proto.Meta{Time: time.Unix(1700000000, 0), Frame: f.frame})
	if done {
		f.done = true
		return
	}
	if n < 0 {
		f.t.Fatalf("negative consumed %d", n)
	}
	if n >= len(buf) {
		f.skip[dir] += n - len(buf)
		f.held[dir] = nil
		return
	}
	f.held[dir] = append([]byte(nil), buf[n:]...)
	f.maxHeld = max(f.maxHeld, len(f.held[dir]))
}

// gap reports n lost bytes the way the engine does: bytes inside a
// region the session asked to skip are no loss, held bytes are.
func (f *feeder) gap(dir proto.Dir, n int) {
	if f.done {
		return
	}
	if f.skip[dir] >= n {
		f.skip[dir] -= n
		return
	}
	n -= f.skip[dir]
	f.skip[dir] = 0
	lost := n + len(f.held[dir])
	f.held[dir] = nil
	f.s.Gap(dir, lost)
}

func (f *feeder) end() { f.s.End(proto.Meta{Time: time.Unix(1700000001, 0)}) }

// step is one direction's bytes in a scripted conversation.
type step struct {
	dir  proto.Dir
	data string
}

// play feeds a conversation, each step cut into pieces at the offsets
// cut returns for it.
func play(t testing.TB, c DefaultChecker, steps []step, cut func(i int, data string) []int) (*feeder, *sink) {
	f, out := newFeeder(t, c)
	for i, st := range steps {
		prev := 0
		var cuts []int
		if cut != nil {
			cuts = cut(i, st.data)
		}
		for _, k := range cuts {
			if k > prev && k < len(st.data) {
				f.feed(st.dir, []byte(st.data[prev:k]))
				prev = k
			}
		}
		f.feed(st.dir, []byte(st.data[prev:]))
	}
	f.end()
	return f, out
}

// canon renders observations without time and frame, for comparing runs
// that cut the same bytes differently.
func canon(t testing.TB, obs []*event.Observation) string {
	t.Helper()
	var out []byte
	for _, o := range obs {
		c := *o
		c.Time, c.Frame = time.Time{}, 0
		b, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
		out = append(out, '\n')
	}
	return string(out)
}

func kinds(obs []*event.Observation) []string {
	var k []string
	for _, o := range obs {
		k = append(k, o.Kind)
	}
	return k
}

func requests(obs []*event.Observation) []*Request {
	var r []*Request
	for _, o := range obs {
		if d, ok := o.Detail.(*Request); ok {
			r = append(r, d)
		}
	}
	return r
}

func responses(obs []*event.Observation) []*Response {
	var r []*Response
	for _, o := range obs {
		if d, ok := o.Detail.(*Response); ok {
			r = append(r, d)
		}
	}
	return r
}

func weaknesses(obs []*event.Observation) []event.Weakness {
	var w []event.Weakness
	for _, o := range obs {
		w = append(w, o.Weaknesses...)
	}
	return w
}

func hasWeakness(obs []*event.Observation, kind event.WeaknessKind, about event.About) bool {
	for _, w := range weaknesses(obs) {
		if w.Kind == kind && w.About == about {
			return true
		}
	}
	return false
}

// factsOf returns the facts with attr as "about:value" strings.
func factsOf(obs []*event.Observation, attr event.Attr) []string {
	var f []string
	for _, o := range obs {
		for _, x := range o.Facts {
			if x.Attr == attr {
				f = append(f, string(x.About)+":"+x.Value)
			}
		}
	}
	return f
}
