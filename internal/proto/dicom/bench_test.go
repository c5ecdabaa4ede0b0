package dicom

import (
	"encoding/binary"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// driver feeds a session as the flow engine does, without allocating in
// steady state, so that the benchmark measures the session.
type driver struct {
	s    proto.Session
	held [2][]byte
	skip [2]int
}

func (d *driver) feed(dir proto.Dir, b []byte, m proto.Meta) {
	if n := min(d.skip[dir], len(b)); n > 0 {
		b = b[n:]
		d.skip[dir] -= n
	}
	if len(b) == 0 {
		return
	}
	buf := b
	held := len(d.held[dir]) > 0
	if held {
		d.held[dir] = append(d.held[dir], b...)
		buf = d.held[dir]
	}
	n, _ := d.s.Feed(dir, buf, m)
	if n >= len(buf) {
		d.skip[dir] += n - len(buf)
		d.held[dir] = d.held[dir][:0]
		return
	}
	if held {
		k := copy(d.held[dir], buf[n:])
		d.held[dir] = d.held[dir][:k]
	} else {
		d.held[dir] = append(d.held[dir][:0], buf[n:]...)
	}
}

type countSink struct{ n int }

func (c *countSink) Observe(*event.Observation) { c.n++ }

// storeStream is a modality's association sending images CT images of
// 512x512x16 bits in 16 KiB PDUs, cut into 1448-byte segments.
func storeStream(images int) []segment {
	const maxPDU = 16384
	var segs []segment
	add := func(dir proto.Dir, b []byte) {
		for len(b) > 0 {
			n := min(len(b), 1448)
			segs = append(segs, segment{dir, b[:n]})
			b = b[n:]
		}
	}
	add(proto.ToServer, associateRQ("CT1", "PACS", []rqCtx{{1, ctSOP, []string{uidExplicitLE}}}, userInfo("1.2", "V", maxPDU)))
	add(proto.ToClient, associateAC("CT1", "PACS", []acCtx{{1, 0, uidExplicitLE}}, userInfo("1.3", "W", maxPDU)))
	ds := ctDataSet(func(es ...elem) []byte { return explicit(binary.LittleEndian, es...) }, 512*512*2)
	for i := 0; i < images; i++ {
		stream := pdata(pdv{1, 3, storeRQ(ctSOP, uint16(i+1))})
		for off := 0; off < len(ds); off += maxPDU - 12 {
			end := min(off+maxPDU-12, len(ds))
			mch := byte(0)
			if end == len(ds) {
				mch = 2
			}
			stream = append(stream, pdata(pdv{1, mch, ds[off:end]})...)
		}
		add(proto.ToServer, stream)
		add(proto.ToClient, pdata(pdv{1, 3, rsp(0x8001, ctSOP, uint16(i+1), 0, false)}))
	}
	add(proto.ToServer, releasePDU(pduReleaseRQ))
	add(proto.ToClient, releasePDU(pduReleaseRP))
	return segs
}

func BenchmarkCStoreAssociation(b *testing.B) {
	segs := storeStream(10)
	total := 0
	for _, s := range segs {
		total += len(s.data)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	c := testConn()
	d := New()
	out := &countSink{}
	for b.Loop() {
		dr := driver{s: d.New(c, out)}
		for i, sg := range segs {
			dr.feed(sg.dir, sg.data, proto.Meta{Frame: uint64(i + 1)})
		}
		dr.s.End(proto.Meta{})
	}
	if want := 2 + 2*10 + 2 + 1; out.n != want*b.N {
		b.Fatalf("%d observations for %d runs, want %d each", out.n, b.N, want)
	}
}

// BenchmarkPixelData measures the steady state: data PDUs of an image
// after its patient module, which are skipped.
func BenchmarkPixelData(b *testing.B) {
	segs := storeStream(1)
	b.ReportAllocs()
	c := testConn()
	d := New()
	out := &countSink{}
	dr := driver{s: d.New(c, out)}
	// The association and the first image set up the session.
	for i, sg := range segs[:len(segs)-2] {
		dr.feed(sg.dir, sg.data, proto.Meta{Frame: uint64(i + 1)})
	}
	chunk := pdata(pdv{1, 0, make([]byte, 16372)})
	cmd := pdata(pdv{1, 3, storeRQ(ctSOP, 9)})
	first := pdata(pdv{1, 0, ctDataSet(implicitLE, 0)})
	b.SetBytes(int64(len(chunk)))
	for i := 0; b.Loop(); i++ {
		if i%64 == 0 {
			// Each 1 MiB image starts with a command and its patient
			// module.
			dr.feed(proto.ToServer, cmd, proto.Meta{})
			dr.feed(proto.ToServer, first, proto.Meta{})
		}
		for off := 0; off < len(chunk); off += 1448 {
			dr.feed(proto.ToServer, chunk[off:min(off+1448, len(chunk))], proto.Meta{})
		}
	}
}
