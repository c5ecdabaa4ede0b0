package flow

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
)

// msgProto is a test protocol: the client opens with "HELLO"; then each
// direction carries messages of a 2-byte big-endian length and a body. A
// body starting with "SKIP" is consumed and the session also asks to skip
// the following number of bytes given in the body.
type msgProto struct {
	serverFirst bool
	sessions    []*msgSession
}

func (d *msgProto) Name() string               { return "msg" }
func (d *msgProto) Transport() proto.Transport { return proto.TCP }
func (d *msgProto) Ports() []uint16            { return []uint16{7000} }
func (d *msgProto) Probe(c *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	const hello = "HELLO"
	n := min(len(data), len(hello))
	if string(data[:n]) != hello[:n] {
		return proto.No
	}
	if n < len(hello) {
		return proto.Unsure
	}
	if dir == proto.ToClient {
		return proto.YesReversed
	}
	return proto.Yes
}
func (d *msgProto) New(c *proto.Conn, out proto.Sink) proto.Session {
	s := &msgSession{conn: c, out: out}
	d.sessions = append(d.sessions, s)
	return s
}

type msgSession struct {
	conn    *proto.Conn
	out     proto.Sink
	started [2]bool
	msgs    [2][]string
	gaps    [2]int
	ended   bool
}

func (s *msgSession) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	n := 0
	if !s.started[dir] && dir == proto.ToServer {
		if len(data) < 5 {
			return 0, false
		}
		s.started[dir] = true
		n = 5
	}
	for {
		rest := data[n:]
		if len(rest) < 2 {
			return n, false
		}
		l := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+l {
			return n, false
		}
		body := string(rest[2 : 2+l])
		s.msgs[dir] = append(s.msgs[dir], body)
		n += 2 + l
		if len(body) > 4 && body[:4] == "SKIP" {
			k := int(body[4])<<8 | int(body[5])
			return n + k, false
		}
		if body == "BYE" {
			return n, true
		}
		if len(body) == 8 && body[:6] == "EXPECT" {
			port := binary.BigEndian.Uint16([]byte(body[6:]))
			s.out.(proto.Expecter).Expect(netip.AddrPortFrom(s.conn.Server.IP, port), "msg-data")
		}
	}
}
func (s *msgSession) Gap(dir proto.Dir, n int) { s.gaps[dir] += n }
func (s *msgSession) End(m proto.Meta)         { s.ended = true }

type recorder struct {
	flows   []*event.Flow
	obs     []*event.Observation
	started int
}

func (r *recorder) Observe(o *event.Observation)         { r.obs = append(r.obs, o) }
func (r *recorder) FlowStart(c *proto.Conn, t time.Time) { r.started++ }
func (r *recorder) Flow(f *event.Flow)                   { r.flows = append(r.flows, f) }

var (
	cli = netip.MustParseAddr("10.0.0.2")
	srv = netip.MustParseAddr("10.0.0.1")
	t0  = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
)

// seg is one TCP segment of the test conversation.
type seg struct {
	toServer bool
	flags    uint8
	seq      uint32
	ack      uint32
	data     []byte
}

func (s seg) packet() *packet.Packet {
	p := &packet.Packet{IPVersion: 4, Proto: packet.ProtoTCP, TCPFlags: s.flags, Seq: s.seq, Ack: s.ack, Payload: s.data, TTL: 64}
	if s.toServer {
		p.Src, p.Dst, p.SrcPort, p.DstPort = cli, srv, 40000, 7000
	} else {
		p.Src, p.Dst, p.SrcPort, p.DstPort = srv, cli, 7000, 40000
	}
	return p
}

func messages(bodies ...string) []byte {
	var b []byte
	for _, m := range bodies {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

// segments cuts a stream starting at isn+1 into random pieces.
func segments(r *rand.Rand, toServer bool, isn uint32, stream []byte) []seg {
	var out []seg
	for off := 0; off < len(stream); {
		n := 1 + r.IntN(40)
		if off+n > len(stream) {
			n = len(stream) - off
		}
		out = append(out, seg{toServer: toServer, flags: packet.ACK | packet.PSH, seq: isn + 1 + uint32(off), data: stream[off : off+n]})
		off += n
	}
	return out
}

func run(t *testing.T, cfg Config, d proto.Dissector, segs []seg) *recorder {
	t.Helper()
	rec, _ := runEngine(cfg, d, segs)
	return rec
}

func runEngine(cfg Config, d proto.Dissector, segs []seg) (*recorder, *Engine) {
	rec := &recorder{}
	e := New(cfg, []proto.Dissector{d}, rec)
	for i, s := range segs {
		e.Packet(s.packet(), t0.Add(time.Duration(i)*time.Millisecond), uint64(i+1), 60+len(s.data))
	}
	e.Flush(t0.Add(time.Hour))
	return rec, e
}

func handshake(cisn, sisn uint32) []seg {
	return []seg{
		{toServer: true, flags: packet.SYN, seq: cisn},
		{toServer: false, flags: packet.SYN | packet.ACK, seq: sisn},
		{toServer: true, flags: packet.ACK, seq: cisn + 1},
	}
}

// TestReassemblyUnderReorderAndDuplication feeds the same conversation cut
// into random segments, reordered within a window and partly duplicated,
// and checks that the session sees exactly the messages that were sent.
func TestReassemblyUnderReorderAndDuplication(t *testing.T) {
	var toServer, toClient []string
	for i := 0; i < 200; i++ {
		toServer = append(toServer, string(bytes.Repeat([]byte{byte('a' + i%26)}, i%37)))
		toClient = append(toClient, string(bytes.Repeat([]byte{byte('A' + i%26)}, (i*7)%53)))
	}
	cstream := append([]byte("HELLO"), messages(toServer...)...)
	sstream := messages(toClient...)
	for seed := uint64(0); seed < 50; seed++ {
		r := rand.New(rand.NewPCG(seed, 1))
		cisn, sisn := r.Uint32(), r.Uint32() // exercises sequence wrap-around too
		data := append(segments(r, true, cisn, cstream), segments(r, false, sisn, sstream)...)
		r.Shuffle(len(data), func(i, j int) {
			// Reorder only nearby segments of one direction, as networks do.
			if data[i].toServer == data[j].toServer && abs(i-j) < 6 {
				data[i], data[j] = data[j], data[i]
			}
		})
		var all []seg
		for _, s := range data {
			all = append(all, s)
			if r.IntN(10) == 0 {
				all = append(all, s) // retransmission
			}
		}
		segs := append(handshake(cisn, sisn), all...)
		d := &msgProto{}
		rec := run(t, Config{}, d, segs)
		if len(d.sessions) != 1 {
			t.Fatalf("seed %d: %d sessions", seed, len(d.sessions))
		}
		s := d.sessions[0]
		if !equal(s.msgs[proto.ToServer], toServer) || !equal(s.msgs[proto.ToClient], toClient) {
			t.Fatalf("seed %d: got %d/%d messages, want %d/%d", seed, len(s.msgs[0]), len(s.msgs[1]), len(toServer), len(toClient))
		}
		if s.gaps != [2]int{} {
			t.Fatalf("seed %d: unexpected gaps %v", seed, s.gaps)
		}
		if len(rec.flows) != 1 || rec.flows[0].Proto != "msg" || rec.flows[0].Client.IP != cli {
			t.Fatalf("seed %d: flows %+v", seed, rec.flows)
		}
		if !s.ended {
			t.Fatalf("seed %d: session not ended", seed)
		}
	}
}

func TestSkipAndGapInsideSkip(t *testing.T) {
	skip := []byte("SKIP\x00\x64") // skip 100 bytes after this message
	stream := append([]byte("HELLO"), messages(string(skip))...)
	stream = append(stream, bytes.Repeat([]byte{0xee}, 100)...)
	stream = append(stream, messages("after")...)
	segs := handshake(0, 5000)
	all := segments(rand.New(rand.NewPCG(3, 3)), true, 0, stream)
	// Lose a segment inside the skipped region: nobody needs those bytes.
	for i, s := range all {
		off := int(s.seq - 1)
		if off > 20 && off+len(s.data) < 100 {
			all = append(all[:i], all[i+1:]...)
			break
		}
	}
	segs = append(segs, all...)
	// The server acknowledges everything, revealing the hole.
	segs = append(segs, seg{toServer: false, flags: packet.ACK, seq: 5001, ack: uint32(len(stream)) + 1})
	d := &msgProto{}
	_, e := runEngine(Config{}, d, segs)
	if st := e.Stats(); st.Gaps != 1 || st.GapBytes == 0 {
		t.Fatalf("the lost segment was not noticed: %+v", st)
	}
	s := d.sessions[0]
	if !equal(s.msgs[0], []string{string(skip), "after"}) {
		t.Fatalf("messages %q", s.msgs[0])
	}
	if s.gaps[0] != 0 {
		t.Fatalf("gap inside a skipped region reported: %v", s.gaps)
	}
}

func TestGapReportedAndStreamResumes(t *testing.T) {
	stream := append([]byte("HELLO"), messages("one", "two", "three")...)
	segs := handshake(100, 900)
	// one packet per message; lose "two".
	segs = append(segs,
		seg{toServer: true, flags: packet.ACK, seq: 101, data: stream[:5+5]},
		seg{toServer: true, flags: packet.ACK, seq: 101 + 15, data: stream[15:]},
	)
	d := &msgProto{}
	rec := run(t, Config{}, d, segs)
	s := d.sessions[0]
	if !equal(s.msgs[0], []string{"one"}) && !equal(s.msgs[0], []string{"one", "three"}) {
		t.Fatalf("messages %q", s.msgs[0])
	}
	if len(rec.flows) != 1 {
		t.Fatalf("flows %d", len(rec.flows))
	}
}

func TestProbeAcrossSegmentsAndReversal(t *testing.T) {
	// The server speaks first: the engine's guess must be corrected.
	segs := []seg{
		{toServer: false, flags: packet.ACK, seq: 10, data: []byte("HEL")},
		{toServer: false, flags: packet.ACK, seq: 13, data: append([]byte("LO"), messages("hi")...)},
	}
	d := &msgProto{}
	rec := run(t, Config{}, d, segs)
	if len(d.sessions) != 1 {
		t.Fatalf("not recognised across segments")
	}
	f := rec.flows[0]
	// The sender of HELLO is the client after reversal.
	if f.Client.IP != srv || f.Client.Port != 7000 {
		t.Fatalf("client %v:%d, want the HELLO sender", f.Client.IP, f.Client.Port)
	}
	if !equal(d.sessions[0].msgs[proto.ToServer], []string{"hi"}) {
		t.Fatalf("messages %q", d.sessions[0].msgs)
	}
}

func TestUnknownFlowStopsProbing(t *testing.T) {
	segs := append(handshake(1, 1), seg{toServer: true, flags: packet.ACK, seq: 2, data: []byte("GET / HTTP/1.1\r\n")})
	d := &msgProto{}
	rec := run(t, Config{}, d, segs)
	if len(d.sessions) != 0 || rec.flows[0].Proto != "" {
		t.Fatalf("claimed a flow that is not the protocol")
	}
}

func TestSessionDone(t *testing.T) {
	stream := append([]byte("HELLO"), messages("BYE", "ignored")...)
	segs := append(handshake(1, 1), seg{toServer: true, flags: packet.ACK, seq: 2, data: stream})
	d := &msgProto{}
	run(t, Config{}, d, segs)
	if !equal(d.sessions[0].msgs[0], []string{"BYE"}) {
		t.Fatalf("fed after done: %q", d.sessions[0].msgs[0])
	}
}

func TestHeldBound(t *testing.T) {
	// A message that announces 60,000 bytes and never completes must not
	// be held beyond MaxHeld.
	big := binary.BigEndian.AppendUint16([]byte("HELLO"), 60000)
	var segs []seg
	segs = append(segs, handshake(1, 1)...)
	segs = append(segs, seg{toServer: true, flags: packet.ACK, seq: 2, data: big})
	seq := uint32(2 + len(big))
	for i := 0; i < 40; i++ {
		segs = append(segs, seg{toServer: true, flags: packet.ACK, seq: seq, data: make([]byte, 1000)})
		seq += 1000
	}
	d := &msgProto{}
	rec := &recorder{}
	e := New(Config{MaxHeld: 8 << 10}, []proto.Dissector{d}, rec)
	for i, s := range segs {
		e.Packet(s.packet(), t0.Add(time.Duration(i)*time.Millisecond), uint64(i+1), 60)
		if st := e.Stats(); st.HeldBytes > 8<<10+1000 {
			t.Fatalf("holding %d bytes", st.HeldBytes)
		}
	}
	if e.Stats().HeldOverflow == 0 || d.sessions[0].gaps[0] == 0 {
		t.Fatalf("overflow not counted or not reported as a gap: %+v", e.Stats())
	}
}

func TestTimeoutsEvictionAndReuse(t *testing.T) {
	rec := &recorder{}
	e := New(Config{MaxFlows: 2, IdleUDP: time.Minute, Active: 10 * time.Minute}, nil, rec)
	udp := func(sport uint16, ts time.Time) {
		p := &packet.Packet{IPVersion: 4, Proto: packet.ProtoUDP, Src: cli, Dst: srv, SrcPort: sport, DstPort: 53, Payload: []byte("q")}
		e.Packet(p, ts, 1, 60)
	}
	udp(1, t0)
	udp(2, t0.Add(time.Second))
	udp(3, t0.Add(2*time.Second)) // table full: flow 1 is evicted
	if len(rec.flows) != 1 || rec.flows[0].Reason != "evicted" || rec.flows[0].Client.Port != 1 {
		t.Fatalf("eviction: %+v", rec.flows)
	}
	udp(4, t0.Add(2*time.Minute)) // flows 2 and 3 idle for > 1 minute
	if len(rec.flows) != 3 || rec.flows[1].Reason != "idle" || rec.flows[2].Reason != "idle" {
		t.Fatalf("idle: %d flows", len(rec.flows))
	}
	for i := 1; i <= 22; i++ { // flow 4 stays busy for 11 minutes
		udp(4, t0.Add(2*time.Minute+time.Duration(i)*30*time.Second))
	}
	last := rec.flows[len(rec.flows)-1]
	if last.Reason != "active" || !last.Continuing || last.Client.Port != 4 || last.Counts[0].Packets < 20 {
		t.Fatalf("active: %+v", last)
	}

	// A new SYN on a closed connection's ports starts a new flow.
	rec = &recorder{}
	e = New(Config{}, nil, rec)
	segs := append(handshake(1, 1), seg{toServer: true, flags: packet.RST, seq: 2})
	segs = append(segs, handshake(5000, 7000)...)
	for i, s := range segs {
		e.Packet(s.packet(), t0.Add(time.Duration(i)*time.Millisecond), uint64(i+1), 60)
	}
	e.Flush(t0.Add(time.Hour))
	if len(rec.flows) != 2 || rec.flows[0].Reason != "reused" {
		t.Fatalf("reuse: %d flows, first reason %q", len(rec.flows), rec.flows[0].Reason)
	}
}

func BenchmarkEngineTCP(b *testing.B) {
	stream := append([]byte("HELLO"), messages(string(make([]byte, 500)))...)
	d := &msgProto{}
	e := New(Config{}, []proto.Dissector{d}, &recorder{})
	pkts := []*packet.Packet{}
	for _, s := range handshake(1, 1) {
		pkts = append(pkts, s.packet())
	}
	data := seg{toServer: true, flags: packet.ACK, seq: 2, data: stream}.packet()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		// A steady stream of in-order segments on one flow.
		if i%1000 == 0 {
			for _, p := range pkts {
				e.Packet(p, t0, 1, 60)
			}
			data.Seq = 2
		}
		e.Packet(data, t0, 1, 600)
		data.Seq += uint32(len(stream))
		data.Payload = stream[5:]
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// A session announces a data connection: the engine labels it and links
// it to the announcing flow instead of probing it.
func TestExpectedConnection(t *testing.T) {
	ctrl := append(handshake(1, 1), seg{toServer: true, flags: packet.ACK, seq: 2,
		data: append([]byte("HELLO"), messages("EXPECT\x75\x30")...)}) // port 30000
	rec := &recorder{}
	d := &msgProto{}
	e := New(Config{}, []proto.Dissector{d}, rec)
	for i, s := range ctrl {
		e.Packet(s.packet(), t0.Add(time.Duration(i)*time.Millisecond), uint64(i+1), 60)
	}
	data := func(dport uint16, flags uint8, toServer bool) *packet.Packet {
		p := &packet.Packet{IPVersion: 4, Proto: packet.ProtoTCP, TCPFlags: flags, Src: cli, Dst: srv, SrcPort: 41000, DstPort: dport}
		if !toServer {
			p.Src, p.Dst, p.SrcPort, p.DstPort = srv, cli, dport, 41000
		}
		return p
	}
	e.Packet(data(30000, packet.SYN, true), t0.Add(time.Second), 10, 60)
	e.Packet(data(30000, packet.SYN|packet.ACK, false), t0.Add(time.Second), 11, 60)
	e.Packet(data(30001, packet.SYN, true), t0.Add(time.Second), 12, 60)
	e.Flush(t0.Add(time.Hour))
	var ctrlID string
	byPort := map[uint16]*event.Flow{}
	for _, f := range rec.flows {
		byPort[f.Server.Port] = f
		if f.Proto == "msg" {
			ctrlID = f.ID
		}
	}
	if f := byPort[30000]; f == nil || f.Proto != "msg-data" || f.Parent != ctrlID || ctrlID == "" {
		t.Fatalf("announced flow %+v (control %q)", f, ctrlID)
	}
	if f := byPort[30001]; f == nil || f.Proto != "" || f.Parent != "" {
		t.Fatalf("unannounced flow %+v", f)
	}
	if e.Stats().Expected != 1 {
		t.Fatalf("stats %+v", e.Stats())
	}
}
