package httpproto

import (
	"bytes"

	"github.com/heir-emd/heir/internal/proto"
)

// DefaultChecker says whether a user name and password pair is a known
// default credential. The session calls it with a password it decoded from
// a Basic Authorization header and forgets the password afterwards.
type DefaultChecker interface {
	IsDefault(user, password string) bool
}

// Dissector recognises HTTP/1.x on TCP.
type Dissector struct {
	checker   DefaultChecker
	inspector RequestInspector
}

// New returns the HTTP dissector. checker may be nil: then no Basic
// credential is checked against default passwords. WithInspector adds a
// request inspector for attack detection.
func New(checker DefaultChecker, opts ...Option) *Dissector {
	d := &Dissector{checker: checker}
	for _, o := range opts {
		o(d)
	}
	return d
}

func (d *Dissector) Name() string { return "http" }

func (d *Dissector) Transport() proto.Transport { return proto.TCP }

// Ports only order the probes; HTTP on any port is recognised by content
// (IPP on 631, FHIR servers on 8080/8443-style ports, device web UIs …).
func (d *Dissector) Ports() []uint16 { return []uint16{80, 8080, 8000, 8008, 8081, 5000, 8888} }

// methods are the request methods recognised at the start of a flow:
// RFC 9110, PATCH and WebDAV/DeltaV. SSDP and GENA (M-SEARCH, NOTIFY,
// SUBSCRIBE) and RTSP/SIP methods are deliberately absent: those protocols
// borrow HTTP's syntax but are not HTTP and get their own dissectors.
var methods = []string{
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH",
	"REPORT", "MKCALENDAR", "ACL", "MERGE", "CHECKOUT", "CHECKIN", "UNCHECKOUT",
	"MKACTIVITY", "MKWORKSPACE", "VERSION-CONTROL", "BASELINE-CONTROL", "LABEL",
	"UPDATE", "BIND", "UNBIND", "REBIND", "ORDERPATCH",
}

// knownMethod returns the canonical string of a recognised method (no
// allocation) or "".
func knownMethod(m []byte) string {
	for _, k := range methods {
		if string(m) == k {
			return k
		}
	}
	return ""
}

// longTarget is how much of a request target the probe accepts as proof
// when the version has not arrived yet: attack URLs can be long, and a
// known method followed by this much URL text is HTTP.
const longTarget = 1024

// Probe recognises a request line with a known method and an HTTP/1.x
// version, or a status line, at the start of one direction.
func (d *Dissector) Probe(c *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	v, isRequest := probe(data)
	if v != proto.Yes {
		return v
	}
	if isRequest == (dir == proto.ToServer) {
		return proto.Yes
	}
	return proto.YesReversed
}

// probe returns Yes with whether data starts like a request (true) or a
// response (false).
func probe(data []byte) (proto.Verdict, bool) {
	if len(data) == 0 {
		return proto.Unsure, false
	}
	const status = "HTTP/"
	if n := min(len(data), len(status)); string(data[:n]) == status[:n] {
		return probeResponse(data), false
	}
	return probeRequest(data), true
}

func probeResponse(data []byte) proto.Verdict {
	const prefix = "HTTP/1."
	n := min(len(data), len(prefix))
	if string(data[:n]) != prefix[:n] {
		return proto.No
	}
	// "HTTP/1.x NNN" then SP or end of line.
	for i := len(prefix); i < 13; i++ {
		if i >= len(data) {
			return proto.Unsure
		}
		c := data[i]
		switch {
		case i == len(prefix) || (i >= 9 && i <= 11):
			if !isDigit(c) {
				return proto.No
			}
		case i == 8:
			if c != ' ' {
				return proto.No
			}
		case i == 12:
			if c != ' ' && c != '\r' && c != '\n' {
				return proto.No
			}
		}
	}
	if data[9] < '1' || data[9] > '5' {
		return proto.No
	}
	return proto.Yes
}

func probeRequest(data []byte) proto.Verdict {
	sp := bytes.IndexByte(data, ' ')
	if sp < 0 {
		// Still reading the method: Unsure while it is a prefix of one.
		if len(data) > 24 {
			return proto.No
		}
		for _, m := range methods {
			if len(data) <= len(m) && m[:len(data)] == string(data) {
				return proto.Unsure
			}
		}
		return proto.No
	}
	method := knownMethod(data[:sp])
	if method == "" {
		return proto.No
	}
	rest := data[sp+1:]
	if len(rest) == 0 {
		return proto.Unsure
	}
	if !targetStart(method, rest) {
		return proto.No
	}
	end := bytes.IndexAny(rest, " \r\n")
	if end < 0 {
		for _, c := range rest {
			if c < 0x21 || c == 0x7f {
				return proto.No
			}
		}
		if len(rest) >= longTarget {
			return proto.Yes
		}
		return proto.Unsure
	}
	for _, c := range rest[:end] {
		if c < 0x21 || c == 0x7f {
			return proto.No
		}
	}
	if rest[end] != ' ' {
		// HTTP/0.9 ("GET /\r\n") is gone from real use; without a
		// version, too little says it is HTTP.
		return proto.No
	}
	ver := rest[end+1:]
	const prefix = "HTTP/1."
	n := min(len(ver), len(prefix)+1)
	if n <= len(prefix) {
		if string(ver[:n]) != prefix[:n] {
			return proto.No
		}
		return proto.Unsure
	}
	if string(ver[:len(prefix)]) != prefix || !isDigit(ver[len(prefix)]) {
		// RTSP/1.0, SIP/2.0, HTTP/2.0 (the h2 preface), ICAP/1.0 …
		return proto.No
	}
	if len(ver) == len(prefix)+1 {
		// The line end decides: "HTTP/1.10" is not a version.
		return proto.Unsure
	}
	if c := ver[len(prefix)+1]; c != '\r' && c != '\n' {
		return proto.No
	}
	return proto.Yes
}

// targetStart checks the first bytes of a request target against the
// forms RFC 9112 allows: origin-form "/…", asterisk-form "*" (OPTIONS),
// absolute-form "http://…" (proxies) and authority-form "host:port"
// (CONNECT).
func targetStart(method string, t []byte) bool {
	switch t[0] {
	case '/':
		return true
	case '*':
		return method == "OPTIONS"
	}
	if method == "CONNECT" {
		c := t[0]
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '['
	}
	for _, scheme := range []string{"http://", "https://", "ws://", "wss://"} {
		n := min(len(t), len(scheme))
		if bytes.EqualFold(t[:n], []byte(scheme[:n])) {
			return true
		}
	}
	return false
}

// New starts a session on a flow Probe accepted.
func (d *Dissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	return newSession(c, out, d.checker, d.inspector)
}

var _ proto.Dissector = (*Dissector)(nil)
