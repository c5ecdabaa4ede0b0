package tls

import (
	ctls "crypto/tls"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata seeds from the lab capture")

// Transcripts are stored as chunks: direction byte (0 client→server,
// 1 server→client), two-byte big-endian length, data. FuzzSession reads
// the same format, so the fuzzer mutates segmentation as well as content.
func encodeTranscript(tr transcript) []byte {
	var b []byte
	for _, c := range tr {
		for data := c.data; len(data) > 0; {
			n := min(len(data), 0xffff)
			b = append(b, byte(c.dir), byte(n>>8), byte(n))
			b = append(b, data[:n]...)
			data = data[n:]
		}
	}
	return b
}

func decodeTranscript(b []byte) transcript {
	var tr transcript
	for len(b) >= 3 && len(tr) < 4096 {
		dir := proto.Dir(b[0] & 1)
		n := min(int(be16(b[1:])), len(b)-3)
		tr = append(tr, chunk{dir, b[3 : 3+n]})
		b = b[3+n:]
	}
	return tr
}

// recordingDissector claims what our probe claims and records each
// direction as it arrives, up to 64 KiB, reading nothing.
type recordingDissector struct {
	*Dissector
	flows *[]*transcript
}

func (r recordingDissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	tr := &transcript{}
	*r.flows = append(*r.flows, tr)
	return &recordingSession{tr: tr}
}

type recordingSession struct {
	tr    *transcript
	bytes int
}

func (s *recordingSession) Feed(dir proto.Dir, data []byte, _ proto.Meta) (int, bool) {
	if s.bytes < 64<<10 {
		*s.tr = append(*s.tr, chunk{dir, append([]byte(nil), data...)})
		s.bytes += len(data)
	}
	return len(data), false
}
func (s *recordingSession) Gap(proto.Dir, int) {}
func (s *recordingSession) End(proto.Meta)     {}

// recordFlows returns the TLS conversations of a capture.
func recordFlows(t testing.TB, path string) []*transcript {
	var flows []*transcript
	sensortest.Run(t, sensor.Config{}, []proto.Dissector{recordingDissector{New(), &flows}}, path)
	return flows
}

// optionalData finds a shared data file without skipping: fuzz seeds
// from it are welcome but not required.
func optionalData(rel string) (string, bool) {
	dir := os.Getenv("HEIR_DATA")
	if dir == "" {
		root, err := testenv.Root()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(root, "..", "shared", "data")
	}
	p := filepath.Join(dir, rel)
	_, err := os.Stat(p)
	return p, err == nil
}

// labSeeds are the lab capture's TLS conversations, committed (the lab
// capture is free to use) so that fuzzing starts from real handshakes
// even without the shared data.
var labSeeds = []string{"testdata/lab-tls10.bin", "testdata/lab-tls13.bin"}

// TestLabSeeds keeps the committed seeds equal to the lab capture's TLS
// 1.0 and TLS 1.3 conversations; -update rewrites them.
func TestLabSeeds(t *testing.T) {
	path := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	flows := recordFlows(t, path)
	// The first TLS 1.0 conversation and the TLS 1.3 one; nmap's probes
	// to the DICOM port are left out.
	var want [2][]byte
	for _, tr := range flows {
		s := tr.stream(proto.ToServer)
		if len(s) < 11 || len(tr.stream(proto.ToClient)) == 0 {
			continue
		}
		switch {
		case want[0] == nil && be16(s[9:]) == verTLS10:
			want[0] = encodeTranscript(*tr)
		case want[1] == nil && be16(s[9:]) == verTLS12:
			want[1] = encodeTranscript(*tr)
		}
	}
	for i, file := range labSeeds {
		if want[i] == nil {
			t.Fatalf("no conversation for %s", file)
		}
		if *update {
			if err := os.WriteFile(file, want[i], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test -run TestLabSeeds -update)", err)
		}
		if string(got) != string(want[i]) {
			t.Errorf("%s differs from the lab capture (run with -update)", file)
		}
	}
}

// seedTranscripts are real conversations: the lab ones, crypto/tls
// handshakes made now, and (when the shared data is present) the nDPI
// captures, which are LGPL and so are read at run time, never committed.
func seedTranscripts(f *testing.F) []transcript {
	var trs []transcript
	for _, file := range labSeeds {
		if b, err := os.ReadFile(file); err == nil {
			trs = append(trs, decodeTranscript(b))
		}
	}
	legacy := makeCert(f, certSpec{cn: "fuzz.test", rsaBits: 1024}, nil)
	for _, v := range []uint16{ctls.VersionTLS10, ctls.VersionTLS12, ctls.VersionTLS13} {
		tr, _ := converse(f, &ctls.Config{InsecureSkipVerify: true, ServerName: "fuzz.test", MinVersion: ctls.VersionTLS10, MaxVersion: v},
			&ctls.Config{Certificates: []ctls.Certificate{legacy.tls()}, MinVersion: ctls.VersionTLS10, MaxVersion: v})
		trs = append(trs, tr)
	}
	for _, rel := range []string{"pcap/ndpi/443-curl.pcap", "pcap/ndpi/selfsigned.pcap", "pcap/ndpi/ssl-cert-name-mismatch.pcap",
		"pcap/ndpi/tls_malicious_sha1.pcapng", "pcap/ndpi/tls_1.2_unidirectional_client.pcapng"} {
		if p, ok := optionalData(rel); ok {
			for _, tr := range recordFlows(f, p) {
				trs = append(trs, *tr)
			}
		}
	}
	trs = append(trs, transcript{
		{proto.ToServer, sslv2ClientHello(0x0301, []uint32{0x010080, 0x00002f})},
		{proto.ToClient, sslv2ServerHello(legacy.der, []uint32{0x010080})},
	})
	return trs
}

// checkObservations asserts what must hold of any output: bounded, and
// encodable.
func checkObservations(t *testing.T, obs []*event.Observation) {
	if len(obs) > 2+2*maxServerHellos+maxAlerts+2 {
		t.Fatalf("%d observations from one flow", len(obs))
	}
	if _, err := json.Marshal(obs); err != nil {
		t.Fatalf("marshal: %v", err)
	}
}

// FuzzRecord feeds one direction's stream in one piece, as either side.
func FuzzRecord(f *testing.F) {
	for _, tr := range seedTranscripts(f) {
		f.Add(tr.stream(proto.ToServer))
		f.Add(tr.stream(proto.ToClient))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := New()
		for _, dir := range []proto.Dir{proto.ToServer, proto.ToClient} {
			d.Probe(testConn("tls"), dir, data)
			out := &sink{}
			s := d.New(testConn("tls"), out)
			n, _ := s.Feed(dir, data, proto.Meta{Time: testTime})
			if n < 0 {
				t.Fatalf("consumed %d", n)
			}
			s.End(proto.Meta{})
			checkObservations(t, out.obs)
		}
	})
}

// FuzzHandshake gives one handshake message of any type to both sides,
// and its body to each parser.
func FuzzHandshake(f *testing.F) {
	for _, tr := range seedTranscripts(f) {
		for _, dir := range []proto.Dir{proto.ToServer, proto.ToClient} {
			s := tr.stream(dir)
			for len(s) >= 5 {
				n := int(be16(s[3:]))
				if s[0] != recHandshake || len(s) < 5+n {
					break
				}
				body := s[5 : 5+n]
				for len(body) >= 4 && 4+be24(body[1:]) <= len(body) {
					l := be24(body[1:])
					f.Add(body[0], body[4:4+l])
					body = body[4+l:]
				}
				s = s[5+n:]
			}
		}
	}
	f.Fuzz(func(t *testing.T, typ byte, body []byte) {
		var ch clientHello
		for _, dtls := range []bool{false, true} {
			if parseClientHello(body, dtls, &ch) == nil {
				ch.maxVersion()
				md5Hex(ch.ja3(nil))
			}
		}
		var sh serverHello
		if parseServerHello(body, &sh) == nil {
			sh.negotiated()
			md5Hex(sh.ja3s(nil))
		}
		for _, dir := range []proto.Dir{proto.ToServer, proto.ToClient} {
			out := &sink{}
			var cv conv
			cv.init(testConn("tls"), out, "tls", false, nil)
			cv.message(dir, typ, body, proto.Meta{Time: testTime})
			checkObservations(t, out.obs)
		}
	})
}

// FuzzCertificate gives bytes to the certificate reader: crypto/x509 and
// the DER walker behind it.
func FuzzCertificate(f *testing.F) {
	f.Add(makeCert(f, certSpec{cn: "seed.test", org: "Seed", rsaBits: 1024, dns: []string{"a", "b"}}, nil).der)
	f.Add(makeCert(f, certSpec{cn: "seed-ec.test"}, nil).der)
	for _, tr := range seedTranscripts(f) {
		// Every DER SEQUENCE start in the server's stream is a candidate.
		s := tr.stream(proto.ToClient)
		for i := 0; i+4 < len(s); i++ {
			if s[i] == 0x30 && s[i+1] == 0x82 {
				if n := int(be16(s[i+2:])) + 4; i+n <= len(s) && n > 300 {
					f.Add(s[i : i+n])
					i += n
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		c := certificateFacts(der, testTime)
		c.Weak = weakReasons(&c, 0)
		if len(c.SANs) > maxSANs || len(c.Subject) > maxDNLen || len(c.SubjectCN) > maxFieldLen {
			t.Fatalf("unbounded: %d SANs, subject %d bytes", len(c.SANs), len(c.Subject))
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzSession feeds a whole conversation, cut into chunks as the input
// says, through the engine's feeding rules.
func FuzzSession(f *testing.F) {
	for _, tr := range seedTranscripts(f) {
		f.Add(encodeTranscript(tr))
		// The same conversation in 7-byte pieces.
		var small transcript
		for _, c := range tr {
			for i := 0; i < len(c.data); i += 7 {
				small = append(small, chunk{c.dir, c.data[i:min(i+7, len(c.data))]})
			}
		}
		f.Add(encodeTranscript(small))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := decodeTranscript(data)
		out, drv := tr.run(New())
		checkObservations(t, out.obs)
		if drv.done {
			// After done the engine feeds nothing more; a session asked
			// again must not emit.
			n := len(out.obs)
			for _, c := range tr {
				drv.s.Feed(c.dir, c.data, drv.m)
			}
			if len(out.obs) != n {
				t.Fatalf("observations after done")
			}
		}
	})
}

// FuzzDTLS feeds datagrams (the transcript chunks) to a DTLS session.
func FuzzDTLS(f *testing.F) {
	if p, ok := optionalData("pcap/ndpi/dtls_old_version.pcapng"); ok {
		var flows []*transcript
		sensortest.Run(f, sensor.Config{}, []proto.Dissector{recordingDTLS{NewDTLS(), &flows}}, p)
		for _, tr := range flows {
			f.Add(encodeTranscript(*tr))
		}
	}
	ch := dtlsHello(helloParts{version: verDTLS12, ciphers: []uint16{0xc02b}}, nil)
	f.Add(encodeTranscript(transcript{
		{proto.ToServer, dtlsRecord(recHandshake, verDTLS10, 0, 0, dtlsFragment(hsClientHello, 0, ch, 0, 10))},
		{proto.ToServer, dtlsRecord(recHandshake, verDTLS10, 0, 1, dtlsFragment(hsClientHello, 0, ch, 10, len(ch)-10))},
		{proto.ToClient, dtlsRecord(recHandshake, verDTLS12, 0, 0, dtlsFragment(hsServerHello, 0,
			serverHelloBody(verDTLS12, 0xc02b, nil, nil), 0, len(serverHelloBody(verDTLS12, 0xc02b, nil, nil))))},
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDTLS()
		out := &sink{}
		s := d.New(testConn("dtls"), out)
		for _, c := range decodeTranscript(data) {
			d.Probe(testConn("dtls"), c.dir, c.data)
			if _, done := s.Feed(c.dir, c.data, proto.Meta{Time: testTime}); done {
				break
			}
		}
		checkObservations(t, out.obs)
	})
}

type recordingDTLS struct {
	*DTLSDissector
	flows *[]*transcript
}

func (r recordingDTLS) New(c *proto.Conn, out proto.Sink) proto.Session {
	tr := &transcript{}
	*r.flows = append(*r.flows, tr)
	return &recordingSession{tr: tr}
}
