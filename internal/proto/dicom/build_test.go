package dicom

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Builders of PDUs from PS3.8, for tests.

func pdu(typ byte, body []byte) []byte {
	b := make([]byte, 6, 6+len(body))
	b[0] = typ
	binary.BigEndian.PutUint32(b[2:], uint32(len(body)))
	return append(b, body...)
}

func item(typ byte, v []byte) []byte {
	b := []byte{typ, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(len(v)))
	return append(b, v...)
}

func ae(s string) []byte {
	b := []byte("                ")
	copy(b, s)
	return b
}

type rqCtx struct {
	id       byte
	abstract string
	ts       []string
}

type acCtx struct {
	id     byte
	result byte
	ts     string
}

func userInfo(impl, version string, maxPDU uint32, extra ...[]byte) []byte {
	var ui []byte
	ml := make([]byte, 4)
	binary.BigEndian.PutUint32(ml, maxPDU)
	ui = append(ui, item(0x51, ml)...)
	ui = append(ui, item(0x52, []byte(impl))...)
	if version != "" {
		ui = append(ui, item(0x55, []byte(version))...)
	}
	for _, e := range extra {
		ui = append(ui, e...)
	}
	return item(0x50, ui)
}

func associateRQ(calling, called string, ctxs []rqCtx, ui []byte) []byte {
	body := []byte{0, 1, 0, 0}
	body = append(body, ae(called)...)
	body = append(body, ae(calling)...)
	body = append(body, make([]byte, 32)...)
	body = append(body, item(0x10, []byte("1.2.840.10008.3.1.1.1"))...)
	for _, c := range ctxs {
		v := []byte{c.id, 0, 0, 0}
		v = append(v, item(0x30, []byte(c.abstract))...)
		for _, ts := range c.ts {
			v = append(v, item(0x40, []byte(ts))...)
		}
		body = append(body, item(0x20, v)...)
	}
	body = append(body, ui...)
	return pdu(pduAssociateRQ, body)
}

func associateAC(calling, called string, ctxs []acCtx, ui []byte) []byte {
	body := []byte{0, 1, 0, 0}
	body = append(body, ae(called)...)
	body = append(body, ae(calling)...)
	body = append(body, make([]byte, 32)...)
	body = append(body, item(0x10, []byte("1.2.840.10008.3.1.1.1"))...)
	for _, c := range ctxs {
		v := []byte{c.id, 0, c.result, 0}
		v = append(v, item(0x40, []byte(c.ts))...)
		body = append(body, item(0x21, v)...)
	}
	body = append(body, ui...)
	return pdu(pduAssociateAC, body)
}

func rejectPDU(result, source, reason byte) []byte {
	return pdu(pduAssociateRJ, []byte{0, result, source, reason})
}

func abortPDU(source, reason byte) []byte { return pdu(pduAbort, []byte{0, 0, source, reason}) }

func releasePDU(typ byte) []byte { return pdu(typ, []byte{0, 0, 0, 0}) }

type pdv struct {
	ctx  byte
	mch  byte
	data []byte
}

func pdata(pdvs ...pdv) []byte {
	var body []byte
	for _, p := range pdvs {
		h := make([]byte, 6)
		binary.BigEndian.PutUint32(h, uint32(len(p.data)+2))
		h[4], h[5] = p.ctx, p.mch
		body = append(body, h...)
		body = append(body, p.data...)
	}
	return pdu(pduPData, body)
}

// elem is one data element for the builders below.
type elem struct {
	tag uint32
	vr  string
	val []byte
	// undef marks an undefined length (sequences); val then holds the
	// encoded items and delimiters.
	undef bool
}

func us(tag uint32, v uint16) elem {
	b := make([]byte, 2)
	binary.LittleEndian.PutUint16(b, v)
	return elem{tag: tag, vr: "US", val: b}
}

func str(tag uint32, vr, s string) elem {
	b := []byte(s)
	if len(b)%2 == 1 {
		pad := byte(' ')
		if vr == "UI" {
			pad = 0
		}
		b = append(b, pad)
	}
	return elem{tag: tag, vr: vr, val: b}
}

// implicitLE encodes elements in implicit VR little endian.
func implicitLE(es ...elem) []byte {
	var b []byte
	for _, e := range es {
		h := make([]byte, 8)
		binary.LittleEndian.PutUint16(h, uint16(e.tag>>16))
		binary.LittleEndian.PutUint16(h[2:], uint16(e.tag))
		l := uint32(len(e.val))
		if e.undef {
			l = undefinedLength
		}
		binary.LittleEndian.PutUint32(h[4:], l)
		b = append(b, h...)
		b = append(b, e.val...)
	}
	return b
}

// explicit encodes elements in explicit VR, little or big endian.
func explicit(order binary.AppendByteOrder, es ...elem) []byte {
	var b []byte
	for _, e := range es {
		h := order.AppendUint16(nil, uint16(e.tag>>16))
		h = order.AppendUint16(h, uint16(e.tag))
		l := uint32(len(e.val))
		if e.undef {
			l = undefinedLength
		}
		switch {
		case e.tag>>16 == 0xfffe:
			h = order.AppendUint32(h, l)
		case longVR(e.vr[0], e.vr[1]):
			h = append(h, e.vr[0], e.vr[1], 0, 0)
			h = order.AppendUint32(h, l)
		default:
			h = append(h, e.vr[0], e.vr[1])
			h = order.AppendUint16(h, uint16(l))
		}
		b = append(b, h...)
		b = append(b, e.val...)
	}
	return b
}

// commandSet encodes a command set with its group length first.
func commandSet(es ...elem) []byte {
	body := implicitLE(es...)
	gl := make([]byte, 4)
	binary.LittleEndian.PutUint32(gl, uint32(len(body)))
	return append(implicitLE(elem{tag: 0, vr: "UL", val: gl}), body...)
}

func echoRQ(id uint16) []byte {
	return commandSet(str(tagAffectedSOPClass, "UI", uidVerification), us(tagCommandField, cEchoRQ),
		us(tagMessageID, id), us(tagDataSetType, dataSetNone))
}

func rsp(field uint16, sop string, id, status uint16, dataSet bool) []byte {
	dst := uint16(dataSetNone)
	if dataSet {
		dst = 1
	}
	return commandSet(str(tagAffectedSOPClass, "UI", sop), us(tagCommandField, field),
		us(tagRespondingTo, id), us(tagDataSetType, dst), us(tagStatus, status))
}

func storeRQ(sop string, id uint16) []byte {
	return commandSet(str(tagAffectedSOPClass, "UI", sop), us(tagCommandField, cStoreRQ),
		us(tagMessageID, id), us(tagPriority, 0), us(tagDataSetType, 0),
		str(0x00001000, "UI", "1.2.3.4.5.6.7"))
}

func findRQ(sop string, id uint16) []byte {
	return commandSet(str(tagAffectedSOPClass, "UI", sop), us(tagCommandField, cFindRQ),
		us(tagMessageID, id), us(tagPriority, 0), us(tagDataSetType, 0))
}

const (
	ctSOP        = "1.2.840.10008.5.1.4.1.1.2"
	findPatient  = "1.2.840.10008.5.1.4.1.2.1.1"
	getPatient   = "1.2.840.10008.5.1.4.1.2.1.3"
	patientName  = "DOE^JANE"
	patientID    = "MRN0001234"
	patientBirth = "19700101"
)

// ctDataSet is a CT image data set whose patient module travels in clear,
// followed by pixelBytes of pixel data.
func ctDataSet(enc func(...elem) []byte, pixelBytes int) []byte {
	return enc(
		str(0x00080016, "UI", ctSOP),
		str(0x00080018, "UI", "1.2.3.4.5.6.7"),
		str(0x00080050, "SH", "ACC0001"),
		str(0x00080060, "CS", "CT"),
		str(0x00100010, "PN", patientName),
		str(0x00100020, "LO", patientID),
		str(0x00100030, "DA", patientBirth),
		str(0x00100040, "CS", "F"),
		str(0x0020000d, "UI", "1.2.3.4.5"),
		us(0x00280010, 128),
		elem{tag: 0x7fe00010, vr: "OW", val: make([]byte, pixelBytes)},
	)
}

// segment is data one side sent, in order.
type segment struct {
	dir  proto.Dir
	data []byte
}

// feeder drives a session as the flow engine does: it holds what the
// session did not consume, skips what it asked to skip, declares a gap
// when too much is held, and scribbles over every buffer after the call
// to catch a session that keeps references to it.
type feeder struct {
	s       proto.Session
	held    [2][]byte
	skip    [2]int
	maxHeld int
	done    bool
	skipped int
	frame   uint64
	t       testing.TB
}

func newFeeder(t testing.TB, s proto.Session) *feeder {
	return &feeder{s: s, maxHeld: 256 << 10, t: t}
}

func (f *feeder) feed(dir proto.Dir, b []byte) {
	f.frame++
	if f.done {
		return
	}
	if n := min(f.skip[dir], len(b)); n > 0 {
		b = b[n:]
		f.skip[dir] -= n
		f.skipped += n
	}
	if len(b) == 0 {
		return
	}
	buf := append(append([]byte(nil), f.held[dir]...), b...)
	m := proto.Meta{Time: time.Unix(1700000000, int64(f.frame)*1000), Frame: f.frame}
	n, done := f.s.Feed(dir, buf, m)
	var rest []byte
	if n >= 0 && n < len(buf) {
		rest = append([]byte(nil), buf[n:]...)
	}
	for i := range buf {
		buf[i] = 0xa5
	}
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
	f.held[dir] = rest
	if len(f.held[dir]) > f.maxHeld {
		lost := len(f.held[dir])
		f.held[dir] = nil
		f.s.Gap(dir, lost)
	}
}

// sink keeps observations.
type sink struct{ obs []*event.Observation }

func (s *sink) Observe(o *event.Observation) { s.obs = append(s.obs, o) }

func (s *sink) kinds() []string {
	var k []string
	for _, o := range s.obs {
		k = append(k, o.Kind)
	}
	return k
}

func (s *sink) byKind(kind string) []*event.Observation {
	var out []*event.Observation
	for _, o := range s.obs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (s *sink) json(t testing.TB) string {
	b, err := json.Marshal(s.obs)
	if err != nil {
		t.Fatalf("marshal observations: %v", err)
	}
	return string(b)
}

// content is the observations without the packet each came in, which
// depends on how the stream was cut.
func (s *sink) content(t testing.TB) string {
	var c []event.Observation
	for _, o := range s.obs {
		x := *o
		x.Frame, x.Time = 0, time.Time{}
		c = append(c, x)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("marshal observations: %v", err)
	}
	return string(b)
}

func testConn() *proto.Conn {
	return &proto.Conn{
		ID:        "test",
		Transport: proto.TCP,
		Client:    event.Endpoint{IP: netip.MustParseAddr("10.0.0.20"), Port: 40000},
		Server:    event.Endpoint{IP: netip.MustParseAddr("10.0.0.10"), Port: 104},
		Proto:     Name,
	}
}

// run feeds segments, each split into chunks of at most chunk bytes (0:
// whole), and ends the session.
func run(t testing.TB, segs []segment, chunk int) (*sink, *feeder) {
	out := &sink{}
	s := New().New(testConn(), out)
	f := newFeeder(t, s)
	for _, sg := range segs {
		d := sg.data
		for len(d) > 0 {
			n := len(d)
			if chunk > 0 && n > chunk {
				n = chunk
			}
			f.feed(sg.dir, d[:n])
			d = d[n:]
		}
	}
	s.End(proto.Meta{Time: time.Unix(1700000100, 0)})
	return out, f
}

// gap loses n bytes of dir as the engine does: bytes the session asked to
// skip are not reported, held bytes are lost with the hole.
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
