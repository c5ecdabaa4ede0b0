package ftp

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// step is one segment of a dialogue.
type step struct {
	dir  proto.Dir
	data []byte
}

func cs(s string) step { return step{proto.ToServer, []byte(s)} }
func sc(s string) step { return step{proto.ToClient, []byte(s)} }

type sink struct{ obs []*event.Observation }

func (k *sink) Observe(o *event.Observation) { k.obs = append(k.obs, o) }

func testConn() *proto.Conn {
	return &proto.Conn{
		ID: "f1", Transport: proto.TCP, Proto: "ftp",
		Client: event.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: 40000},
		Server: event.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 21},
	}
}

// feeder plays the engine: it gives a session each direction's bytes in
// order, keeping what the session did not consume.
type feeder struct {
	s     proto.Session
	held  [2][]byte
	done  bool
	frame uint64
}

func (f *feeder) feed(dir proto.Dir, data []byte) {
	if f.done {
		return
	}
	f.frame++
	buf := append(f.held[dir], data...)
	n, done := f.s.Feed(dir, buf, proto.Meta{Time: time.Unix(1700000000, 0).Add(time.Duration(f.frame) * time.Millisecond), Frame: f.frame})
	if done {
		f.done = true
		return
	}
	if n >= len(buf) {
		f.held[dir] = nil
		return
	}
	f.held[dir] = append([]byte(nil), buf[n:]...)
}

// play runs a dialogue through a fresh session, cutting each step at the
// offsets split returns, and returns what it observed.
func play(d *Dissector, steps []step, split func(i int, b []byte) [][]byte) []*event.Observation {
	k := &sink{}
	f := &feeder{s: d.New(testConn(), k)}
	for i, st := range steps {
		for _, part := range split(i, st.data) {
			f.feed(st.dir, part)
		}
	}
	f.s.End(proto.Meta{Time: time.Unix(1700000100, 0)})
	return k.obs
}

func whole(_ int, b []byte) [][]byte { return [][]byte{b} }

func bytewise(_ int, b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// cutAt splits the dialogue once, at global offset at.
func cutAt(steps []step, at int) func(int, []byte) [][]byte {
	start := make([]int, len(steps))
	n := 0
	for i, s := range steps {
		start[i] = n
		n += len(s.data)
	}
	return func(i int, b []byte) [][]byte {
		k := at - start[i]
		if k <= 0 || k >= len(b) {
			return [][]byte{b}
		}
		return [][]byte{b[:k], b[k:]}
	}
}

func total(steps []step) int {
	n := 0
	for _, s := range steps {
		n += len(s.data)
	}
	return n
}

// summary is an observation without its timing, for comparing runs.
func summary(obs []*event.Observation) string {
	type view struct {
		Kind       string
		Src        event.Endpoint
		Detail     any
		Facts      []event.Fact
		Weaknesses []event.Weakness
	}
	var vs []view
	for _, o := range obs {
		vs = append(vs, view{o.Kind, o.Src, o.Detail, o.Facts, o.Weaknesses})
	}
	b, _ := json.MarshalIndent(vs, "", " ")
	return string(b)
}

func logins(obs []*event.Observation) []*LoginDetail {
	var out []*LoginDetail
	for _, o := range obs {
		if d, ok := o.Detail.(*LoginDetail); ok {
			out = append(out, d)
		}
	}
	return out
}

func hasWeakness(o *event.Observation, k event.WeaknessKind) bool {
	for _, w := range o.Weaknesses {
		if w.Kind == k {
			return true
		}
	}
	return false
}

func hasFact(o *event.Observation, attr event.Attr, value string) bool {
	for _, f := range o.Facts {
		if f.Attr == attr && f.Value == value {
			return true
		}
	}
	return false
}

// pairChecker is a DefaultChecker knowing exactly one pair; it records
// whether it was asked about that pair so tests can see what the session
// reconstructed, without the session ever exposing the password.
type pairChecker struct {
	user, password string
	asked          int
}

func (c *pairChecker) IsDefault(user, password string) bool {
	c.asked++
	return user == c.user && password == c.password
}

// recorder wraps a dissector to record the bytes the engine feeds its
// sessions, for fuzz seeds taken from real captures.
type recorder struct {
	*Dissector
	flows [][]step
}

type recSession struct {
	proto.Session
	r    *recorder
	i    int
	held [2]int
}

func (r *recorder) New(c *proto.Conn, out proto.Sink) proto.Session {
	r.flows = append(r.flows, nil)
	return &recSession{Session: r.Dissector.New(c, out), r: r, i: len(r.flows) - 1}
}

func (s *recSession) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	if h := s.held[dir]; h < len(data) {
		s.r.flows[s.i] = append(s.r.flows[s.i], step{dir, append([]byte(nil), data[h:]...)})
	}
	n, done := s.Session.Feed(dir, data, m)
	s.held[dir] = max(0, len(data)-n)
	return n, done
}

// transcripts returns the dialogues of every flow d claims in the capture.
func transcripts(t testing.TB, path string, d *Dissector) [][]step {
	r := &recorder{Dissector: d}
	sensortest.Run(t, sensor.Config{}, []proto.Dissector{r}, path)
	return r.flows
}

// encode packs a dialogue into fuzz input: records of a header byte (bit
// 7 the direction, bits 0-6 the length) and that many bytes.
func encode(steps []step) []byte {
	var out []byte
	for _, s := range steps {
		b := s.data
		for len(b) > 0 {
			n := min(len(b), 127)
			out = append(out, byte(s.dir)<<7|byte(n))
			out = append(out, b[:n]...)
			b = b[n:]
		}
	}
	return out
}

func decode(in []byte) []step {
	var out []step
	for len(in) > 0 {
		h := in[0]
		in = in[1:]
		n := min(int(h&0x7f), len(in))
		out = append(out, step{proto.Dir(h >> 7), in[:n]})
		in = in[n:]
	}
	return out
}

// dataFile returns a shared data file for fuzz seeding, or "" when the
// data folder is absent (fuzzing then runs on the committed corpus).
func dataFile(rel string) string {
	dir := os.Getenv("HEIR_DATA")
	if dir == "" {
		root, err := testenv.Root()
		if err != nil {
			return ""
		}
		dir = filepath.Join(root, "..", "shared", "data")
	}
	p := filepath.Join(dir, rel)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}
