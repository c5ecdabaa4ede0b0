package hl7

import (
	"encoding/json"
	"testing"

	"github.com/heir-emd/heir/internal/proto"
)

// fuzzSeeds are conversations: the client's stream and the server's.
func fuzzSeeds(f *testing.F) [][2][]byte {
	seeds := [][2][]byte{
		{mllp(adtA01), mllp(ackAA)},
		{mllp(oruR01), mllp(ackAE)},
		{[]byte(adtA01), []byte(ackAA)},
		{mllp("FHS|^~\\&|A\rBHS|^~\\&|A\r" + oruR01 + "BTS|1\rFTS|1\r"), nil},
		{mllp("MSH#@!$%#SEND@X#SFAC#RECV#RFAC#20260101##ADT@A04#C-9#D#2.3.1\rPID#1##ID77\r"), nil},
	}
	// Real conversations, when the shared data is there (nDPI's capture
	// may not be copied into the repository).
	for _, rel := range []string{"pcap/ndpi/hl7.pcap", "pcap/lab/medlab-dev.pcap"} {
		for _, s := range captureStreams(f, New(), rel) {
			seeds = append(seeds, s.dir)
		}
	}
	return seeds
}

// FuzzMLLP feeds a conversation cut into chunks of a fuzzed size and checks
// that the session holds no more than a segment head, consumes sensibly
// and reports only what can be encoded.
func FuzzMLLP(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0], s[1], uint16(1460))
		f.Add(s[0], s[1], uint16(7))
	}
	lim := Limits{MaxMessage: 64 << 10, SegmentHead: 512}
	f.Fuzz(func(t *testing.T, client, server []byte, chunk uint16) {
		size := int(chunk%4096) + 1
		rec := &recorder{}
		s := NewWithLimits(lim).New(testConn(), rec)
		fd := newFeeder(checked{t: t, s: s, head: 512})
		for i, j := 0, 0; i < len(client) || j < len(server); i, j = i+size, j+size {
			if i < len(client) {
				fd.feed(proto.ToServer, client[i:min(i+size, len(client))])
			}
			if j < len(server) {
				fd.feed(proto.ToClient, server[j:min(j+size, len(server))])
			}
		}
		fd.end()
		for _, o := range rec.obs {
			if _, err := json.Marshal(o); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}

// checked wraps a session and fails when a Feed's answer breaks the
// contract or the bound on held bytes.
type checked struct {
	t    *testing.T
	s    proto.Session
	head int
}

func (c checked) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	n, done := c.s.Feed(dir, data, m)
	if n < 0 || n > len(data) {
		c.t.Fatalf("consumed %d of %d", n, len(data))
	}
	if held := len(data) - n; held > c.head+len(rawStart) {
		c.t.Fatalf("holds %d bytes, more than a segment head", held)
	}
	return n, done
}

func (c checked) Gap(dir proto.Dir, n int) { c.s.Gap(dir, n) }
func (c checked) End(m proto.Meta)         { c.s.End(m) }

// FuzzHL7Message frames one message and checks that however it is cut, the
// session reports the same thing.
func FuzzHL7Message(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0], uint16(3))
	}
	lim := Limits{MaxMessage: 16 << 10, SegmentHead: 256}
	f.Fuzz(func(t *testing.T, msg []byte, chunk uint16) {
		if len(msg) > 64<<10 {
			return
		}
		data := mllp(string(msg))
		whole := run(t, lim, func(f *feeder) { f.feed(proto.ToServer, data) })
		size := int(chunk%512) + 1
		cut := run(t, lim, func(f *feeder) {
			for i := 0; i < len(data); i += size {
				f.feed(proto.ToServer, data[i:min(i+size, len(data))])
			}
		})
		if a, b := summarise(whole), summarise(cut); a != b {
			t.Fatalf("cut in %d-byte chunks:\n got %s\nwant %s", size, b, a)
		}
	})
}

// FuzzProbe checks that probing never panics and that what the probe
// accepts, a session can take.
func FuzzProbe(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0])
	}
	d := New()
	f.Fuzz(func(t *testing.T, data []byte) {
		d.Probe(testConn(), proto.ToServer, data)
	})
}
