package tls

import (
	"strconv"
	"strings"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Bounds of one conversation.
const (
	maxMessage      = 64 << 10 // largest handshake message read (certificate chains)
	maxAlerts       = 4        // cleartext alerts reported per flow
	maxServerHellos = 2        // a HelloRetryRequest, then the real one
	factConfidence  = 0.9      // the protocol itself says so
	sniConfidence   = 0.6      // the client's word about the server's name
)

// side is what one direction has shown so far.
type side struct {
	hello   bool // its hello was read
	ccs     bool // encryption started: later records are opaque
	appData bool
	shd     bool // ServerHelloDone: the server's cleartext flight is over
	certs   bool // its certificate chain was read
	dead    bool // not TLS, or sync lost after a gap
	fact    bool // its client/server fact was emitted
}

// conv is one TLS or DTLS conversation above the record layer: it reads
// complete handshake messages, alerts and the start of encryption, and
// emits observations. Both record layers share it.
type conv struct {
	certs   *certCache
	conn    *proto.Conn
	out     proto.Sink
	proto   string
	dtls    bool
	sides   [2]side
	ch      clientHello
	sh      serverHello
	scratch []byte // JA3 strings are built here

	sessionID    [maxSessionID]byte
	sessionIDLen int
	serverHellos int
	helloRetry   bool
	tls13        bool
	fatal        bool
	alerts       int
}

func (cv *conv) init(c *proto.Conn, out proto.Sink, name string, dtls bool, certs *certCache) {
	cv.conn, cv.out, cv.proto, cv.dtls, cv.certs = c, out, name, dtls, certs
}

// finished says there is nothing more to learn: a fatal alert, or both
// sides past their cleartext part. The server is done after
// ServerHelloDone, its ChangeCipherSpec or a TLS 1.3 ServerHello; the
// client after its ChangeCipherSpec (its certificate and any alert about
// the server's come before), or once its hello is read when the server
// negotiated TLS 1.3 or does not speak TLS at all.
func (cv *conv) finished() bool {
	if cv.fatal {
		return true
	}
	cl, sv := &cv.sides[proto.ToServer], &cv.sides[proto.ToClient]
	serverDone := sv.dead || sv.ccs || sv.shd || sv.appData
	clientDone := cl.dead || cl.ccs || cl.appData || (cl.hello && (cv.tls13 || sv.dead))
	return serverDone && clientDone
}

// message handles one complete handshake message sent in dir.
func (cv *conv) message(dir proto.Dir, typ byte, body []byte, m proto.Meta) {
	sd := &cv.sides[dir]
	switch typ {
	case hsClientHello:
		if dir != proto.ToServer || sd.hello {
			return
		}
		if parseClientHello(body, cv.dtls, &cv.ch) != nil {
			return
		}
		sd.hello = true
		cv.emitClientHello(m, false)
	case hsServerHello:
		if dir != proto.ToClient || sd.hello || cv.serverHellos == maxServerHellos {
			return
		}
		cv.serverHellos++
		if parseServerHello(body, &cv.sh) != nil {
			return
		}
		if cv.sh.helloRetry() {
			// The client answers with a second ClientHello; the real
			// ServerHello follows.
			cv.helloRetry = true
			return
		}
		sd.hello = true
		cv.emitServerHello(m)
		if rank(cv.sh.negotiated()) >= 6 {
			// TLS 1.3 encrypts everything after the ServerHello.
			cv.tls13 = true
			sd.ccs = true
		}
	case hsCertificate:
		if sd.certs || cv.tls13 {
			return
		}
		sd.certs = true
		cv.emitCertificates(dir, body, m)
	case hsServerHelloDone:
		if dir == proto.ToClient {
			sd.shd = true
		}
	}
}

// changeCipherSpec notes that dir's records are encrypted from now on.
// Between a HelloRetryRequest and the real ServerHello both sides send a
// dummy ChangeCipherSpec (TLS 1.3 middlebox compatibility, RFC 8446
// appendix D.4) and keep talking in cleartext.
func (cv *conv) changeCipherSpec(dir proto.Dir) {
	if cv.helloRetry && !cv.sides[proto.ToClient].hello {
		return
	}
	cv.sides[dir].ccs = true
}

// alert handles the body of a cleartext alert record.
func (cv *conv) alert(dir proto.Dir, body []byte, m proto.Meta) {
	for len(body) >= 2 && cv.alerts < maxAlerts {
		level, desc := body[0], body[1]
		body = body[2:]
		cv.alerts++
		a := &Alert{Description: alertName(desc), Code: desc}
		switch level {
		case 1:
			a.Level = "warning"
		case 2:
			a.Level = "fatal"
			cv.fatal = true
		default:
			a.Level = "level " + strconv.Itoa(int(level))
		}
		o := cv.conn.Observation(dir, KindAlert, m)
		o.Detail = a
		cv.roleFact(o, dir)
		cv.out.Observe(o)
	}
}

// roleFact adds the client or server fact for dir's sender once per flow.
func (cv *conv) roleFact(o *event.Observation, dir proto.Dir) {
	sd := &cv.sides[dir]
	if sd.fact {
		return
	}
	sd.fact = true
	attr := event.AttrServer
	if dir == proto.ToServer {
		attr = event.AttrClient
	}
	o.Facts = append(o.Facts, event.Fact{About: event.AboutSrc, Attr: attr, Value: cv.proto, Confidence: factConfidence})
}

func (cv *conv) emitClientHello(m proto.Meta, sslv2 bool) {
	h := &cv.ch
	maxV := h.maxVersion()
	d := &ClientHello{
		Version:             VersionName(h.version),
		MaxVersion:          VersionName(maxV),
		SNI:                 cleanName(h.sni),
		ALPN:                alpnList(h.alpn),
		Extensions:          h.nExt,
		PSK:                 h.psk,
		SSLv2Format:         sslv2,
		Malformed:           h.malformed,
		ExtensionsTruncated: h.truncated,
	}
	for i := 0; i+1 < len(h.versions) && len(d.SupportedVersions) < 16; i += 2 {
		if v := be16(h.versions[i:]); !isGREASE(v) {
			d.SupportedVersions = append(d.SupportedVersions, VersionName(v))
		}
	}
	for i := 0; i+1 < len(h.ciphers); i += 2 {
		id := be16(h.ciphers[i:])
		if isGREASE(id) {
			continue
		}
		d.CipherSuites++
		// 0xFFFF stands for an SSL 2.0 cipher kind, all of which use MD5.
		if weakSuite(SuiteName(id)) || (sslv2 && id == 0xffff) {
			d.WeakCipherSuites++
		}
	}
	if !sslv2 {
		cv.scratch = h.ja3(cv.scratch[:0])
		d.JA3Hash = md5Hex(cv.scratch)
		j := cv.scratch
		if len(j) > maxJA3Kept {
			j, d.JA3Truncated = j[:maxJA3Kept], true
		}
		d.JA3 = string(j)
	}
	cv.sessionIDLen = copy(cv.sessionID[:], h.sessionID)

	o := cv.conn.Observation(proto.ToServer, KindClientHello, m)
	o.Detail = d
	cv.roleFact(o, proto.ToServer)
	if d.SNI != "" && isHostName(d.SNI) {
		o.Facts = append(o.Facts, event.Fact{About: event.AboutDst, Attr: event.AttrHostname, Value: strings.ToLower(d.SNI), Confidence: sniConfidence})
	}
	if obsolete(maxV) {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakObsoleteTLS, About: event.AboutSrc,
			Detail: "client offers at most " + humanVersion(maxV)})
	}
	cv.out.Observe(o)
}

func (cv *conv) emitServerHello(m proto.Meta) {
	h := &cv.sh
	v := h.negotiated()
	name := SuiteName(h.cipher)
	d := &ServerHello{
		Version:       VersionName(v),
		CipherSuite:   name,
		CipherSuiteID: h.cipher,
		WeakCipher:    weakSuiteReasons(name),
		Compression:   h.compression,
		ALPN:          cleanName(h.alpn),
		HelloRetry:    cv.helloRetry,
	}
	if v != h.version {
		d.LegacyVersion = VersionName(h.version)
	}
	if rank(v) >= 6 {
		d.Resumed = h.psk
	} else {
		d.Resumed = len(h.sessionID) > 0 && string(h.sessionID) == string(cv.sessionID[:cv.sessionIDLen])
	}
	cv.scratch = h.ja3s(cv.scratch[:0])
	d.JA3SHash = md5Hex(cv.scratch)
	d.JA3S = string(cv.scratch)
	cv.emitServer(m, d, v)
}

// emitServer reports a server hello (TLS or SSLv2) with its weaknesses.
func (cv *conv) emitServer(m proto.Meta, d *ServerHello, v uint16) {
	o := cv.conn.Observation(proto.ToClient, KindServerHello, m)
	o.Detail = d
	cv.roleFact(o, proto.ToClient)
	if obsolete(v) {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakObsoleteTLS, About: event.AboutSrc,
			Detail: humanVersion(v) + " negotiated"})
	}
	if len(d.WeakCipher) > 0 {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakCipher, About: event.AboutSrc,
			Detail: d.CipherSuite + " negotiated (" + strings.Join(d.WeakCipher, ", ") + ")"})
	}
	cv.out.Observe(o)
}

// emitCertificates reads a TLS ≤ 1.2 Certificate message: a 24-bit
// length-prefixed list of 24-bit length-prefixed DER certificates.
func (cv *conv) emitCertificates(dir proto.Dir, body []byte, m proto.Meta) {
	r := reader{b: body}
	list := reader{b: r.vec24()}
	var ders [maxCertificates][]byte
	n, omitted := 0, 0
	for !list.empty() {
		der := list.vec24()
		if list.bad {
			break
		}
		if n == maxCertificates {
			omitted++
			continue
		}
		ders[n] = der
		n++
	}
	cv.emitChain(dir, ders[:n], omitted, m)
}

// emitChain reports a certificate chain, leaf first, sent in dir.
func (cv *conv) emitChain(dir proto.Dir, ders [][]byte, omitted int, m proto.Meta) {
	if len(ders) == 0 {
		return // a client without a certificate sends an empty list
	}
	chain := &CertificateChain{Omitted: omitted, Certificates: make([]Certificate, 0, len(ders))}
	for i, der := range ders {
		c := cv.certs.facts(der, m.Time)
		c.Weak = weakReasons(&c, i)
		chain.Certificates = append(chain.Certificates, c)
	}
	o := cv.conn.Observation(dir, KindCertificate, m)
	o.Detail = chain
	cv.roleFact(o, dir)
	if s := chain.Certificates[0].Subject; s != "" {
		o.Facts = append(o.Facts, event.Fact{About: event.AboutSrc, Attr: event.AttrCertSubject, Value: s, Confidence: factConfidence})
	}
	for i := range chain.Certificates {
		c := &chain.Certificates[i]
		if len(c.Weak) == 0 {
			continue
		}
		where := "leaf certificate"
		if i > 0 {
			where = "chain certificate " + strconv.Itoa(i+1)
		}
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakCertificate, About: event.AboutSrc,
			Detail: where + ": " + strings.Join(c.Weak, ", ")})
	}
	cv.out.Observe(o)
}

// isHostName says whether s looks like a DNS name (not an address
// literal, which RFC 6066 forbids in SNI but some clients send).
func isHostName(s string) bool {
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return false
		}
	}
	return letter
}
