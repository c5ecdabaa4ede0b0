package httpproto

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// recorder is a dissector that claims what the HTTP probe claims and
// keeps the first bytes of each direction, to seed fuzzers with real
// traffic at run time (nDPI captures may not be copied into the tree).
type recorder struct {
	*Dissector
	flows []*recording
}

type recording struct{ data [2][]byte }

// maxSeed bounds each direction of a seed: enough for heads and the start
// of bodies; larger inputs make mutation and minimisation crawl.
const maxSeed = 4 << 10

func (r *recorder) New(c *proto.Conn, out proto.Sink) proto.Session {
	rec := &recording{}
	r.flows = append(r.flows, rec)
	return rec
}

func (r *recording) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	if room := maxSeed - len(r.data[dir]); room > 0 {
		r.data[dir] = append(r.data[dir], data[:min(room, len(data))]...)
	}
	return len(data), false
}
func (r *recording) Gap(proto.Dir, int) {}
func (r *recording) End(proto.Meta)     {}

// realStreams returns the client and server streams of HTTP flows in the
// shared captures, or nothing when the data folder is absent.
func realStreams(f *testing.F) [][2][]byte {
	dir := os.Getenv("HEIR_DATA")
	if dir == "" {
		root, err := testenv.Root()
		if err != nil {
			return nil
		}
		dir = filepath.Join(root, "..", "shared", "data")
	}
	var out [][2][]byte
	for _, rel := range []string{
		"pcap/ndpi/http_auth.pcap", "pcap/ndpi/sql_injection.pcap", "pcap/ndpi/soap.pcap",
		"pcap/ndpi/ipp.pcap", "pcap/lab/medlab-dev.pcap",
	} {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		rec := &recorder{Dissector: New(nil)}
		sensortest.Run(f, sensor.Config{}, []proto.Dissector{rec}, p)
		for _, fl := range rec.flows {
			out = append(out, fl.data)
		}
	}
	return out
}

// encodeScript turns two streams into FuzzSession's input: records of a
// two-byte header (high bit: direction, rest: length) and the bytes.
func encodeScript(client, server []byte) []byte {
	var out []byte
	for len(client) > 0 || len(server) > 0 {
		for dir, s := range []*[]byte{&client, &server} {
			n := min(len(*s), 1500)
			if n == 0 {
				continue
			}
			h := uint16(n)
			if dir == 1 {
				h |= 0x8000
			}
			out = binary.BigEndian.AppendUint16(out, h)
			out = append(out, (*s)[:n]...)
			*s = (*s)[n:]
		}
	}
	return out
}

type record struct {
	dir  proto.Dir
	data []byte
}

func decodeScript(b []byte) []record {
	var recs []record
	for len(b) >= 2 {
		h := binary.BigEndian.Uint16(b)
		b = b[2:]
		n := min(int(h&0x7fff), len(b))
		recs = append(recs, record{proto.Dir(h >> 15), b[:n]})
		b = b[n:]
	}
	return recs
}

func seedHeads(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, st := range conversation() {
		seeds = append(seeds, []byte(st.data))
	}
	for _, s := range realStreams(f) {
		seeds = append(seeds, s[0], s[1])
	}
	return seeds
}

func FuzzRequest(f *testing.F) {
	for _, s := range seedHeads(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h head
		n, err := parseRequestHead(data, &h)
		checkHead(t, data, n, err)
		if n > 0 {
			var h2 head
			if n2, err2 := parseRequestHead(data[:n], &h2); n2 != n || err2 != nil {
				t.Fatalf("head of %d bytes reparsed as %d, %v", n, n2, err2)
			}
			path, query := splitTarget(knownMethod(h.method), h.target)
			var segs [maxSegments][]byte
			if k := segments(path, &segs); k >= 0 {
				classifyFHIR("GET", segs[:k], false)
			}
			var scratch [3 * maxParamLen]byte
			paramNames(query, scratch[:], func(name []byte) { paramNameOK(name) })
			s, _ := cleanString(appendUnescaped(nil, path, false), maxPathLen)
			if len(s) > maxPathLen+3*maxPathLen {
				t.Fatalf("path of %d bytes", len(s))
			}
			if h.auth != nil {
				var buf basicBuf
				_, rest := authScheme(h.auth)
				_, _, k, _ := decodeBasic(rest, &buf)
				clear(buf[:k])
				authParam(rest, "username")
			}
			osFromUserAgent(h.userAgent)
			hostName(h.host)
		}
	})
}

func FuzzResponse(f *testing.F) {
	for _, s := range seedHeads(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h head
		n, err := parseResponseHead(data, &h)
		checkHead(t, data, n, err)
		if n > 0 {
			if h.status < 100 || h.status > 599 {
				t.Fatalf("status %d", h.status)
			}
			osFromServer(h.server)
			for i := 0; i < h.nWWWAuth; i++ {
				_, rest := authScheme(h.wwwAuth[i])
				authParam(rest, "realm")
			}
			sniffBody(data[n:])
		}
	})
}

func checkHead(t *testing.T, data []byte, n int, err error) {
	if n < 0 || n > len(data) || (err != nil && n != 0) {
		t.Fatalf("n=%d err=%v for %d bytes", n, err, len(data))
	}
	if n > maxHeaderBlock+8 {
		t.Fatalf("head of %d bytes accepted", n)
	}
}

// FuzzSession feeds both directions of a scripted conversation, whole and
// in random pieces: the session must not panic, must stay bounded, and
// must say the same whatever the cutting.
func FuzzSession(f *testing.F) {
	steps := conversation()
	var client, server []byte
	for _, st := range steps {
		if st.dir == c2s {
			client = append(client, st.data...)
		} else {
			server = append(server, st.data...)
		}
	}
	f.Add(encodeScript(client, server), uint64(1))
	var script []byte
	for _, st := range steps {
		h := uint16(len(st.data))
		if st.dir == s2c {
			h |= 0x8000
		}
		script = binary.BigEndian.AppendUint16(script, h)
		script = append(script, st.data...)
	}
	f.Add(script, uint64(2))
	for i, s := range realStreams(f) {
		f.Add(encodeScript(s[0], s[1]), uint64(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		recs := decodeScript(data)
		chk := &checker{user: "admin", password: "admin"}
		whole, wout := newFeeder(t, chk)
		for _, r := range recs {
			whole.feed(r.dir, r.data)
		}
		whole.end()
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		cut, cout := newFeeder(t, &checker{user: "admin", password: "admin"})
		for _, r := range recs {
			d := r.data
			for len(d) > 0 {
				k := 1 + rng.IntN(min(len(d), 64))
				cut.feed(r.dir, d[:k])
				d = d[k:]
			}
		}
		cut.end()
		if w, c := canon(t, wout.obs), canon(t, cout.obs); w != c {
			t.Fatalf("cutting changed the result:\nwhole %s\ncut   %s", w, c)
		}
		if len(wout.obs) > 2*maxReports+32 {
			t.Fatalf("%d observations", len(wout.obs))
		}
		if whole.maxHeld > maxHeaderBlock+sniffSize || cut.maxHeld > maxHeaderBlock+sniffSize {
			t.Fatalf("held %d / %d bytes", whole.maxHeld, cut.maxHeld)
		}
		if _, err := json.Marshal(wout.obs); err != nil {
			t.Fatal(err)
		}
	})
}
