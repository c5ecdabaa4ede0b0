package tls

import (
	"crypto/md5"
	"os"
	"testing"

	"github.com/heir-emd/heir/internal/proto"
)

// labClientHello returns the body of the TLS 1.3 ClientHello of the lab
// capture (OpenSSL 3.0 defaults).
func labClientHello(b *testing.B) []byte {
	raw, err := os.ReadFile("testdata/lab-tls13.bin")
	if err != nil {
		b.Fatal(err)
	}
	s := decodeTranscript(raw).stream(proto.ToServer)
	if len(s) < 9 || s[5] != hsClientHello {
		b.Fatal("seed does not start with a ClientHello")
	}
	return s[9 : 9+be24(s[6:])]
}

// BenchmarkClientHello is the hot path of every TLS flow: parse the
// ClientHello and compute its JA3 string and hash.
func BenchmarkClientHello(b *testing.B) {
	body := labClientHello(b)
	var h clientHello
	var buf []byte
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := parseClientHello(body, false, &h); err != nil {
			b.Fatal(err)
		}
		buf = h.ja3(buf[:0])
		if md5.Sum(buf) == [16]byte{} {
			b.Fatal("zero hash")
		}
		if h.maxVersion() != verTLS13 {
			b.Fatal("wrong version")
		}
	}
}

// BenchmarkSession runs whole lab conversations through a session,
// observations (and, for TLS 1.0, certificate parsing) included.
func BenchmarkSession(b *testing.B) {
	for _, file := range labSeeds {
		raw, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		tr := decodeTranscript(raw)
		b.Run(file[len("testdata/"):], func(b *testing.B) {
			d := New()
			b.ReportAllocs()
			for b.Loop() {
				s := d.New(testConn("tls"), &sink{})
				for _, c := range tr {
					if _, done := s.Feed(c.dir, c.data, proto.Meta{Time: testTime}); done {
						break
					}
				}
			}
		})
	}
}
