package mqtt

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/proto"
)

// fuzzSeeds are conversations: the client's stream and the broker's.
func fuzzSeeds(f *testing.F) [][2][]byte {
	seeds := [][2][]byte{
		{cat(connect311(flagClean|flagUser|flagPass, 45, "pump-12", str("u"), str("p")),
			subscribe(1, "ward/7/cmd/#", 1), publish(0x02, "ward/7/pump/12", 2, `{"mrn":"M1"}`), pingreq, disconnect),
			cat(connack(0), pkt(0x90, u16(1), []byte{1}), pkt(0x40, u16(2)), pingresp)},
		{cat(pkt(0x10, str("MQTT"), []byte{5, flagClean | flagWill}, u16(20), props(0x11, 0, 0, 0, 10), str("v5"),
			props(0x18, 0, 0, 0, 5), str("w"), str("bye")),
			pkt(0x32, str("t"), u16(8), props(0x01, 1), []byte("{}")), pkt(0xe0, []byte{0x04}, props())),
			cat(pkt(0x20, []byte{0, 0}, props(0x21, 0, 10)), pkt(0x40, u16(8), []byte{0x10}, props()))},
		{cat(pingreq, publish(0, "a/b", 0, "x")), cat(pingresp, publish(0x02, "c", 3, "y"))},
	}
	// Real conversations when the shared data is there (nDPI's captures
	// may not be copied into the repository).
	for _, s := range fileStreams(f, New(nil), filepath.Join("testdata", "mosquitto-v5.pcap")) {
		seeds = append(seeds, s.dir)
	}
	for _, rel := range []string{"pcap/ndpi/mqtt.pcap", "pcap/ndpi/coap_mqtt.pcap", "pcap/lab/medlab-dev.pcap"} {
		for i, s := range captureStreams(f, New(nil), rel) {
			if i < 8 {
				// Short seeds mutate faster; their start is what matters.
				seeds = append(seeds, [2][]byte{s.dir[0][:min(len(s.dir[0]), 2048)], s.dir[1][:min(len(s.dir[1]), 2048)]})
			}
		}
	}
	return seeds
}

// fuzzLimits are small so that the fuzzer reaches the bounds.
var fuzzLimits = Limits{MaxTopics: 4, PayloadPeek: 128, PublishHead: 256, MaxPacket: 512, MaxControlObs: 8}

// FuzzSession feeds a conversation cut into chunks of a fuzzed size and
// checks the Feed contract, the bound on held bytes, and that what is
// reported can be encoded.
func FuzzSession(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0], s[1], uint16(1460))
		f.Add(s[0], s[1], uint16(5))
	}
	f.Fuzz(func(t *testing.T, client, server []byte, chunk uint16) {
		if len(client)+len(server) > 64<<10 {
			return
		}
		size := int(chunk%4096) + 1
		rec := &recorder{}
		s := NewWithLimits(&fakeDefaults{}, fuzzLimits).New(testConn(), rec)
		fd := newFeeder(checked{t: t, s: s, held: 5 + max(fuzzLimits.MaxPacket, fuzzLimits.PublishHead+fuzzLimits.PayloadPeek)})
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
		if len(rec.obs) > 2*fuzzLimits.MaxTopics+maxPHITexts+fuzzLimits.MaxControlObs+1 {
			t.Fatalf("%d observations: the bounds leak", len(rec.obs))
		}
	})
}

// checked wraps a session and fails when a Feed's answer breaks the
// contract or holds more than the bound.
type checked struct {
	t    *testing.T
	s    proto.Session
	held int
}

func (c checked) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	n, done := c.s.Feed(dir, data, m)
	if n < 0 {
		c.t.Fatalf("consumed %d", n)
	}
	if n < len(data) && len(data)-n > c.held {
		c.t.Fatalf("holds %d bytes, bound %d", len(data)-n, c.held)
	}
	return n, done
}

func (c checked) Gap(dir proto.Dir, n int) { c.s.Gap(dir, n) }
func (c checked) End(m proto.Meta)         { c.s.End(m) }

// FuzzMQTTPacket parses one fuzzed packet (fixed header included) after a
// CONNECT of a fuzzed protocol level and checks that however it is cut, the
// session reports the same thing.
func FuzzMQTTPacket(f *testing.F) {
	f.Add(byte(4), publish(0x02, "ward/7/pump/12", 2, `{"patient_id":"x"}`))
	f.Add(byte(5), pkt(0x32, str("t"), u16(8), props(0x01, 1), []byte("{}")))
	f.Add(byte(4), subscribe(1, "a/+/b", 2))
	f.Add(byte(5), pkt(0x82, u16(7), props(0x0b, 3), str("cmd/+"), []byte{0x05}))
	f.Add(byte(4), connack(0))
	f.Add(byte(5), pkt(0x20, []byte{1, 0x87}, props(0x1f, 0, 1, 'x')))
	f.Add(byte(4), pkt(0x90, u16(1), []byte{0, 1, 2, 0x80}))
	f.Add(byte(3), connect311(flagUser|flagPass|flagWill, 1, "c", str("w"), str("m"), str("u"), str("p")))
	f.Add(byte(5), pkt(0xe0, []byte{0x8e}, props(0x11, 0, 0, 0, 1)))
	for _, s := range fuzzSeeds(f) {
		f.Add(byte(4), s[0])
	}
	f.Fuzz(func(t *testing.T, level byte, p []byte) {
		if len(p) > 4<<10 {
			return
		}
		var hello []byte
		switch level % 3 {
		case 0:
			hello = pkt(0x10, str("MQIsdp"), []byte{3, 2}, u16(10), str("f"))
		case 1:
			hello = connect311(2, 10, "f")
		default:
			hello = pkt(0x10, str("MQTT"), []byte{5, 2}, u16(10), props(), str("f"))
		}
		whole := run(t, nil, fuzzLimits, func(f *feeder) {
			f.feed(proto.ToServer, hello)
			f.feed(proto.ToServer, p)
		})
		cut := run(t, nil, fuzzLimits, func(f *feeder) {
			f.feed(proto.ToServer, hello)
			for i := range p {
				f.feed(proto.ToServer, p[i:i+1])
			}
		})
		if a, b := summarise(whole), summarise(cut); a != b {
			t.Fatalf("byte by byte:\n got %s\nwant %s", b, a)
		}
	})
}

// FuzzProbe checks that probing never panics.
func FuzzProbe(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0])
		f.Add(s[1])
	}
	d := New(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		d.Probe(testConn(), proto.ToServer, data)
	})
}
