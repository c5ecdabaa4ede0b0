package tls

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	ctls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

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

func (s *sink) first(kind string) *event.Observation {
	for _, o := range s.obs {
		if o.Kind == kind {
			return o
		}
	}
	return nil
}

func (s *sink) json(t testing.TB) string {
	t.Helper()
	b, err := json.Marshal(s.obs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testConn(name string) *proto.Conn {
	return &proto.Conn{
		ID:        "test",
		Transport: proto.TCP,
		Client:    event.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 50000},
		Server:    event.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: 443},
		Proto:     name,
	}
}

// maxHeldTest mirrors the engine's default bound on bytes held for a
// session.
const maxHeldTest = 256 << 10

// driver feeds a session the way the flow engine does: bytes not consumed
// are given again with the next data, bytes consumed beyond the data are
// skipped, and too much held becomes a gap.
type driver struct {
	s    proto.Session
	held [2][]byte
	skip [2]int
	done bool
	m    proto.Meta
}

func newDriver(d proto.Dissector) (*driver, *sink) {
	out := &sink{}
	return &driver{s: d.New(testConn(d.Name()), out), m: proto.Meta{Time: testTime, Frame: 1}}, out
}

// testTime is the capture time of constructed conversations.
var testTime = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

func (d *driver) feed(dir proto.Dir, data []byte) {
	if d.done {
		return
	}
	if n := min(d.skip[dir], len(data)); n > 0 {
		d.skip[dir] -= n
		data = data[n:]
	}
	if len(data) == 0 {
		return
	}
	buf := append(append([]byte(nil), d.held[dir]...), data...)
	n, done := d.s.Feed(dir, buf, d.m)
	if done {
		d.done = true
		return
	}
	if n < 0 {
		n = 0
	}
	if n >= len(buf) {
		d.skip[dir] += n - len(buf)
		d.held[dir] = nil
		return
	}
	d.held[dir] = append([]byte(nil), buf[n:]...)
	if len(d.held[dir]) > maxHeldTest {
		lost := len(d.held[dir])
		d.held[dir] = nil
		d.s.Gap(dir, lost)
	}
}

func (d *driver) end() {
	if !d.done {
		d.s.End(d.m)
	}
}

// chunk is what one side wrote at once.
type chunk struct {
	dir  proto.Dir
	data []byte
}

// transcript is a whole conversation in the order it was written.
type transcript []chunk

func (tr transcript) stream(dir proto.Dir) []byte {
	var b []byte
	for _, c := range tr {
		if c.dir == dir {
			b = append(b, c.data...)
		}
	}
	return b
}

// run feeds a transcript chunk by chunk and returns the observations.
func (tr transcript) run(d proto.Dissector) (*sink, *driver) {
	drv, out := newDriver(d)
	for _, c := range tr {
		drv.feed(c.dir, c.data)
	}
	drv.end()
	return out, drv
}

// recorder logs what both ends of a net.Pipe write, in order.
type recorder struct {
	mu sync.Mutex
	tr transcript
}

type recConn struct {
	net.Conn
	dir proto.Dir
	rec *recorder
}

func (c *recConn) Write(p []byte) (int, error) {
	c.rec.mu.Lock()
	c.rec.tr = append(c.rec.tr, chunk{c.dir, append([]byte(nil), p...)})
	c.rec.mu.Unlock()
	return c.Conn.Write(p)
}

// converse runs a real crypto/tls handshake between cc and sc over a
// pipe, sends a line of application data each way, and returns what was
// written. It also returns what the server's callback saw of the
// ClientHello, an independent reading to check ours against.
func converse(t testing.TB, cc, sc *ctls.Config) (transcript, *ctls.ClientHelloInfo) {
	t.Helper()
	tr, info, cerr, serr := talk(cc, sc)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	return tr, info
}

// talk is converse for handshakes that may fail. It runs over loopback
// TCP: kernel buffers let both sides write at once, as TLS 1.3 servers do
// with session tickets.
func talk(cc, sc *ctls.Config) (tr transcript, info *ctls.ClientHelloInfo, cerr, serr error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err, err
	}
	defer ln.Close()
	rec := &recorder{}
	sc = sc.Clone()
	sc.GetConfigForClient = func(h *ctls.ClientHelloInfo) (*ctls.Config, error) {
		cp := *h
		info = &cp
		return nil, nil
	}
	deadline := time.Now().Add(10 * time.Second)
	errc := make(chan error, 1)
	go func() {
		b, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer b.Close()
		b.SetDeadline(deadline)
		server := ctls.Server(&recConn{b, proto.ToClient, rec}, sc)
		err = server.Handshake()
		if err == nil {
			_, err = io.ReadFull(server, make([]byte, 5))
		}
		if err == nil {
			_, err = server.Write([]byte("world"))
		}
		errc <- err
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err, <-errc
	}
	a.SetDeadline(deadline)
	client := ctls.Client(&recConn{a, proto.ToServer, rec}, cc)
	cerr = client.Handshake()
	if cerr == nil {
		_, cerr = client.Write([]byte("hello"))
	}
	if cerr == nil {
		_, cerr = io.ReadFull(client, make([]byte, 5))
	}
	a.Close()
	serr = <-errc
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.tr, info, cerr, serr
}

// certSpec describes a test certificate.
type certSpec struct {
	cn        string
	org       string
	rsaBits   int // 0 for ECDSA P-256
	sigAlg    x509.SignatureAlgorithm
	notBefore time.Time
	notAfter  time.Time
	dns       []string
	ca        bool
}

type testCert struct {
	der  []byte
	key  crypto.Signer
	cert *x509.Certificate
}

// makeCert creates a certificate for spec, signed by parent (nil for
// self-signed).
func makeCert(t testing.TB, spec certSpec, parent *testCert) *testCert {
	t.Helper()
	var key crypto.Signer
	var err error
	if spec.rsaBits > 0 {
		key, err = rsa.GenerateKey(rand.Reader, spec.rsaBits)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	if spec.notBefore.IsZero() {
		spec.notBefore = testTime.Add(-24 * time.Hour)
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = testTime.Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0x1234567),
		Subject:               pkix.Name{CommonName: spec.cn},
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		SignatureAlgorithm:    spec.sigAlg,
		DNSNames:              spec.dns,
		IsCA:                  spec.ca,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if spec.org != "" {
		tmpl.Subject.Organization = []string{spec.org}
	}
	signer, issuer := key, tmpl
	if parent != nil {
		signer, issuer = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{der: der, key: key, cert: c}
}

func (c *testCert) tls(chain ...*testCert) ctls.Certificate {
	tc := ctls.Certificate{Certificate: [][]byte{c.der}, PrivateKey: c.key}
	for _, p := range chain {
		tc.Certificate = append(tc.Certificate, p.der)
	}
	return tc
}

// refragment rewrites a direction's stream so that its cleartext
// handshake messages travel in records of at most k bytes (k large packs
// all messages of a flight into one record). Other records are kept.
func refragment(stream []byte, k int) []byte {
	var out, pending []byte
	var ver [2]byte
	flush := func() {
		for len(pending) > 0 {
			n := min(k, len(pending), maxRecord)
			out = append(out, recHandshake, ver[0], ver[1], byte(n>>8), byte(n))
			out = append(out, pending[:n]...)
			pending = pending[n:]
		}
	}
	encrypted := false
	for len(stream) >= 5 {
		typ, n := stream[0], int(be16(stream[3:]))
		if len(stream) < 5+n {
			break
		}
		rec := stream[:5+n]
		stream = stream[5+n:]
		if typ == recHandshake && !encrypted {
			ver = [2]byte{rec[1], rec[2]}
			pending = append(pending, rec[5:]...)
			continue
		}
		flush()
		if typ == recCCS {
			encrypted = true
		}
		out = append(out, rec...)
	}
	flush()
	return append(out, stream...)
}

// clientHelloRecord builds a ClientHello record from parts, for tests that
// need exact control of the bytes.
type helloParts struct {
	version  uint16
	ciphers  []uint16
	exts     [][2]any // {uint16 type, []byte data}
	noExts   bool
	recVer   uint16
	session  []byte
	compress []byte
}

func (p helloParts) body() []byte {
	var b []byte
	b = append(b, byte(p.version>>8), byte(p.version))
	b = append(b, make([]byte, 32)...)
	b = append(b, byte(len(p.session)))
	b = append(b, p.session...)
	b = append(b, byte(len(p.ciphers)*2>>8), byte(len(p.ciphers)*2))
	for _, c := range p.ciphers {
		b = append(b, byte(c>>8), byte(c))
	}
	comp := p.compress
	if comp == nil {
		comp = []byte{0}
	}
	b = append(b, byte(len(comp)))
	b = append(b, comp...)
	if p.noExts {
		return b
	}
	var e []byte
	for _, x := range p.exts {
		typ, data := x[0].(uint16), x[1].([]byte)
		e = append(e, byte(typ>>8), byte(typ), byte(len(data)>>8), byte(len(data)))
		e = append(e, data...)
	}
	b = append(b, byte(len(e)>>8), byte(len(e)))
	return append(b, e...)
}

func hsMessage(typ byte, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

func record(typ byte, ver uint16, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(ver >> 8), byte(ver), byte(n >> 8), byte(n)}, body...)
}

func u16list(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = append(b, byte(v>>8), byte(v))
	}
	return b
}

func vec8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }
func vec16(b []byte) []byte { return append([]byte{byte(len(b) >> 8), byte(len(b))}, b...) }
func vec24(b []byte) []byte {
	return append([]byte{byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
}

func sniExt(name string) []byte {
	return vec16(append([]byte{0}, vec16([]byte(name))...))
}

// serverHelloBody builds a ServerHello body.
func serverHelloBody(version, cipher uint16, session []byte, exts []byte) []byte {
	var b []byte
	b = append(b, byte(version>>8), byte(version))
	b = append(b, bytes.Repeat([]byte{7}, 32)...)
	b = append(b, vec8(session)...)
	b = append(b, byte(cipher>>8), byte(cipher), 0)
	if exts != nil {
		b = append(b, vec16(exts)...)
	}
	return b
}
