package httpproto

import (
	"testing"

	"github.com/heir-emd/heir/internal/proto"
)

// browserRequest is a typical request head of a web UI client.
const browserRequest = "GET /DVWA-master/vulnerabilities/sqli/?id=1&Submit=Submit HTTP/1.1\r\n" +
	"Host: 192.168.3.107\r\n" +
	"Connection: keep-alive\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/102.0.0.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
	"Referer: http://192.168.3.107/DVWA-master/vulnerabilities/sqli/\r\n" +
	"Accept-Encoding: gzip, deflate\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Cookie: security=low; PHPSESSID=0123456789abcdef\r\n\r\n"

func BenchmarkParseRequestHead(b *testing.B) {
	data := []byte(browserRequest)
	var h head
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if n, err := parseRequestHead(data, &h); n != len(data) || err != nil {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkProbe(b *testing.B) {
	d := New(nil)
	c := testConn()
	data := []byte(browserRequest)
	b.ReportAllocs()
	for b.Loop() {
		if d.Probe(c, proto.ToServer, data) != proto.Yes {
			b.Fatal("not HTTP")
		}
	}
}

// BenchmarkSessionSteadyState measures a keep-alive flow past the report
// bound: every request and response is parsed, paired, counted and its
// body skipped, and nothing should be allocated.
func BenchmarkSessionSteadyState(b *testing.B) {
	req := []byte(browserRequest)
	resp := []byte("HTTP/1.1 200 OK\r\nDate: Tue, 14 Jun 2022 21:58:27 GMT\r\nServer: Apache/2.4.41 (Ubuntu)\r\n" +
		"Content-Length: 1375\r\nKeep-Alive: timeout=5, max=100\r\nConnection: Keep-Alive\r\n" +
		"Content-Type: text/html;charset=utf-8\r\n\r\n")
	s := New(nil).New(testConn(), &sink{}).(*session)
	m := proto.Meta{}
	step := func() {
		if n, _ := s.Feed(proto.ToServer, req, m); n != len(req) {
			b.Fatalf("request consumed %d", n)
		}
		if n, _ := s.Feed(proto.ToClient, resp, m); n != len(resp)+1375 {
			b.Fatalf("response consumed %d", n)
		}
	}
	for i := 0; i < maxReports+1; i++ {
		step()
	}
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
}

// BenchmarkSessionReported is the first requests of a flow, each becoming
// a request and a response observation.
func BenchmarkSessionReported(b *testing.B) {
	req := []byte(browserRequest)
	resp := []byte("HTTP/1.1 200 OK\r\nServer: Apache/2.4.41 (Ubuntu)\r\nContent-Length: 0\r\nContent-Type: text/html\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		s := New(nil).New(testConn(), &sink{})
		s.Feed(proto.ToServer, req, proto.Meta{})
		s.Feed(proto.ToClient, resp, proto.Meta{})
		s.End(proto.Meta{})
	}
}
