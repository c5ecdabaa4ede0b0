package httpproto

import (
	"testing"

	"github.com/heir-emd/heir/internal/proto"
)

func TestProbe(t *testing.T) {
	d := New(nil)
	c := testConn()
	for _, tc := range []struct {
		name string
		dir  proto.Dir
		data string
		want proto.Verdict
	}{
		{"get", c2s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", proto.Yes},
		{"get http/1.0", c2s, "GET /index.html HTTP/1.0\r\n", proto.Yes},
		{"post absolute", c2s, "POST http://proxy.example/x HTTP/1.1\r\n", proto.Yes},
		{"options star", c2s, "OPTIONS * HTTP/1.1\r\n", proto.Yes},
		{"connect", c2s, "CONNECT pacs:443 HTTP/1.1\r\n", proto.Yes},
		{"propfind", c2s, "PROPFIND /dav/ HTTP/1.1\r\n", proto.Yes},
		{"request from server", s2c, "GET / HTTP/1.1\r\n", proto.YesReversed},
		{"response", s2c, "HTTP/1.1 200 OK\r\n", proto.Yes},
		{"response no reason", s2c, "HTTP/1.0 404\r\n", proto.Yes},
		{"response from client", c2s, "HTTP/1.1 401 Unauthorized\r\n", proto.YesReversed},
		{"partial method", c2s, "GE", proto.Unsure},
		{"H is head or http", c2s, "H", proto.Unsure},
		{"partial target", c2s, "GET /index", proto.Unsure},
		{"partial version", c2s, "GET / HTT", proto.Unsure},
		{"partial status", s2c, "HTTP/1.1 2", proto.Unsure},
		{"long url without version yet", c2s, "GET /" + string(make([]byte, 0)) + repeat('a', 1100), proto.Yes},
		{"rtsp", c2s, "OPTIONS rtsp://cam/stream RTSP/1.0\r\nCSeq: 1\r\n", proto.No},
		{"rtsp describe", c2s, "DESCRIBE rtsp://cam/ RTSP/1.0\r\n", proto.No},
		{"rtsp response", s2c, "RTSP/1.0 200 OK\r\n", proto.No},
		{"sip invite", c2s, "INVITE sip:bob@example.org SIP/2.0\r\n", proto.No},
		{"sip options", c2s, "OPTIONS sip:bob@example.org SIP/2.0\r\n", proto.No},
		{"sip response", s2c, "SIP/2.0 200 OK\r\n", proto.No},
		{"ssdp m-search", c2s, "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n", proto.No},
		{"ssdp notify", c2s, "NOTIFY * HTTP/1.1\r\n", proto.No},
		{"gena subscribe", c2s, "SUBSCRIBE /evt HTTP/1.1\r\n", proto.No},
		{"h2 preface", c2s, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", proto.No},
		{"get with http/2", c2s, "GET / HTTP/2.0\r\n", proto.No},
		{"icap", c2s, "REQMOD icap://x/ ICAP/1.0\r\n", proto.No},
		{"tls", c2s, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", proto.No},
		{"ftp banner", s2c, "220 vsftpd 3.0.3\r\n", proto.No},
		{"smtp", c2s, "EHLO mail\r\n", proto.No},
		{"http 0.9", c2s, "GET /\r\n", proto.No},
		{"control in target", c2s, "GET /a\x00b HTTP/1.1\r\n", proto.No},
		{"bad status", s2c, "HTTP/1.1 99 X\r\n", proto.No},
		{"status 600", s2c, "HTTP/1.1 600 X\r\n", proto.No},
		{"lower-case method", c2s, "get / HTTP/1.1\r\n", proto.No},
		{"options other target", c2s, "GET * HTTP/1.1\r\n", proto.No},
		{"hl7", c2s, "\x0bMSH|^~\\&|", proto.No},
		{"empty", c2s, "", proto.Unsure},
	} {
		if got := d.Probe(c, tc.dir, []byte(tc.data)); got != tc.want {
			t.Errorf("%s: Probe(%q) = %v, want %v", tc.name, tc.data, got, tc.want)
		}
	}
}

func repeat(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func TestParseRequestHead(t *testing.T) {
	for _, tc := range []struct {
		in      string
		n       int // 0: incomplete
		err     error
		method  string
		target  string
		length  int64
		chunked bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, nil, "GET", "/", -1, false},
		{"\r\nGET / HTTP/1.1\r\n\r\n", 20, nil, "GET", "/", -1, false},
		{"GET / HTTP/1.1\nHost: a\n\n", 24, nil, "GET", "/", -1, false},
		{"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 39, nil, "POST", "/x", 5, false},
		{"POST /x HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 42, nil, "POST", "/x", 5, false},
		{"POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, errMalformed, "", "", 0, false},
		{"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, errMalformed, "", "", 0, false},
		{"POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 0, errMalformed, "", "", 0, false},
		{"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 54, nil, "POST", "/x", -1, true},
		{"GET /a b HTTP/1.1\r\n\r\n", 21, nil, "GET", "/a b", -1, false},
		{"GET / HTTP/1.1\r\nHost: a\r\n", 0, nil, "", "", 0, false},
		{"GET / HTTP/1.1\r\n folded\r\n\r\n", 27, nil, "GET", "/", -1, false},
		{"GET / HTTP/3.0\r\n\r\n", 0, errMalformed, "", "", 0, false},
		{"GET /\r\n\r\n", 0, errMalformed, "", "", 0, false},
		{"GET  HTTP/1.1\r\n\r\n", 0, errMalformed, "", "", 0, false},
	} {
		var h head
		n, err := parseRequestHead([]byte(tc.in), &h)
		if n != tc.n || err != tc.err {
			t.Errorf("%q: n=%d err=%v, want %d %v", tc.in, n, err, tc.n, tc.err)
			continue
		}
		if n == 0 {
			continue
		}
		if string(h.method) != tc.method || string(h.target) != tc.target || h.contentLength != tc.length || h.chunked != tc.chunked {
			t.Errorf("%q: method %q target %q length %d chunked %v", tc.in, h.method, h.target, h.contentLength, h.chunked)
		}
	}
	big := "GET / HTTP/1.1\r\nX: " + repeat('a', maxHeaderBlock) + "\r\n\r\n"
	var h head
	if _, err := parseRequestHead([]byte(big), &h); err != errTooLong {
		t.Errorf("oversized head: err = %v", err)
	}
	if _, err := parseRequestHead([]byte(big[:maxHeaderBlock+10]), &h); err != errTooLong {
		t.Errorf("oversized incomplete head: err = %v", err)
	}
}

func TestParseResponseHead(t *testing.T) {
	for _, tc := range []struct {
		in     string
		ok     bool
		status int
		reason string
	}{
		{"HTTP/1.1 200 OK\r\n\r\n", true, 200, "OK"},
		{"HTTP/1.0 404\r\n\r\n", true, 404, ""},
		{"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nWWW-Authenticate: NTLM\r\n\r\n", true, 401, "Unauthorized"},
		{"HTTP/1.1 2000 OK\r\n\r\n", false, 0, ""},
		{"HTTP/1.1 20 OK\r\n\r\n", false, 0, ""},
		{"HTTP/2 200\r\n\r\n", false, 0, ""},
		{"HTTP/1.1 099 X\r\n\r\n", false, 0, ""},
	} {
		var h head
		n, err := parseResponseHead([]byte(tc.in), &h)
		if (err == nil && n > 0) != tc.ok {
			t.Errorf("%q: n=%d err=%v", tc.in, n, err)
			continue
		}
		if tc.ok && (h.status != tc.status || string(h.reason) != tc.reason) {
			t.Errorf("%q: status %d reason %q", tc.in, h.status, h.reason)
		}
	}
	var h head
	parseResponseHead([]byte("HTTP/1.1 401 X\r\nWWW-Authenticate: Basic realm=\"x\"\r\nWWW-Authenticate: NTLM\r\n\r\n"), &h)
	if h.nWWWAuth != 2 {
		t.Errorf("challenges = %d", h.nWWWAuth)
	}
}

func TestAuth(t *testing.T) {
	var buf basicBuf
	for _, tc := range []struct {
		cred, user, pass string
		ok               bool
	}{
		{"YWRtaW46YWRtaW4=", "admin", "admin", true},
		{"YWRtaW46YWRtaW4", "admin", "admin", true}, // no padding
		{"dGVzdDpmYWlsMg==", "test", "fail2", true},
		{"dXNlcjo=", "user", "", true},
		{"bm9jb2xvbg==", "", "", false}, // "nocolon"
		{"!!!", "", "", false},
		{"", "", "", false},
	} {
		u, p, n, ok := decodeBasic([]byte(tc.cred), &buf)
		if ok != tc.ok || (ok && (string(u) != tc.user || string(p) != tc.pass)) {
			t.Errorf("%q: %q %q %v", tc.cred, u, p, ok)
		}
		clear(buf[:n])
	}
	sch, rest := authScheme([]byte(`Digest username="Mufasa", realm="a, b", nonce=x`))
	if sch != schemeDigest || string(authParam(rest, "username")) != "Mufasa" || string(authParam(rest, "realm")) != "a, b" || string(authParam(rest, "nonce")) != "x" {
		t.Errorf("digest params: %s %q", sch, rest)
	}
	if s, _ := authScheme([]byte("Negotiate YIIx")); s != schemeNegotiate {
		t.Errorf("negotiate: %s", s)
	}
	if s, _ := authScheme([]byte("AWS4-HMAC-SHA256 Credential=x")); s != schemeOther {
		t.Errorf("other: %s", s)
	}
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct {
		method, target, path, query string
	}{
		{"GET", "/a/b?x=1&y=2", "/a/b", "x=1&y=2"},
		{"GET", "/a#frag", "/a", ""},
		{"GET", "http://host:8080/p?q", "/p", "q"},
		{"GET", "http://host?q=1", "", "q=1"},
		{"GET", "http://host", "", ""},
		{"CONNECT", "host:443", "", ""},
		{"OPTIONS", "*", "*", ""},
	} {
		p, q := splitTarget(tc.method, []byte(tc.target))
		if string(p) != tc.path || string(q) != tc.query {
			t.Errorf("%s %s: path %q query %q", tc.method, tc.target, p, q)
		}
	}
	var names []string
	var scratch [3 * maxParamLen]byte
	paramNames([]byte("a=1&b&c%5Fd=3&e+f=4&=5&&12345&john.doe%40example.org&_has%3AObservation%3Apatient%3Acode=x"), scratch[:], func(n []byte) {
		if paramNameOK(n) {
			names = append(names, string(n))
		} else {
			names = append(names, "!"+string(n))
		}
	})
	want := "a b c_d !e f !12345 !john.doe@example.org _has:Observation:patient:code"
	if got := join(names); got != want {
		t.Errorf("param names = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		in   string
		max  int
		want string
		cut  bool
	}{
		{"plain", 10, "plain", false},
		{"a\x00b", 10, "a\ufffdb", false},
		{"\xff\xfe", 10, "\ufffd\ufffd", false},
		{"héllo", 2, "h", true},
		{"abcdef", 3, "abc", true},
	} {
		got, cut := cleanString([]byte(tc.in), tc.max)
		if got != tc.want || cut != tc.cut {
			t.Errorf("cleanString(%q, %d) = %q %v", tc.in, tc.max, got, cut)
		}
	}
	if got := string(appendUnescaped(nil, []byte("/nice%20ports%2C/Tri%6Eity.txt%2ebak%zz%4"), false)); got != "/nice ports,/Trinity.txt.bak%zz%4" {
		t.Errorf("unescape = %q", got)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
