package indicator

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("0.0.0.0 evil.example\n::1 x.example\n#c\n1.2.3.4/33\n"))
	f.Add([]byte(`{"type":"bundle","objects":[{"type":"indicator","pattern":"[ipv4-addr:value IN ('1.2.3.4','5.6.7.8/30')]"}]}`))
}

// FuzzRead: any input either loads or fails with an error; a loaded set
// only holds canonical values, and matching never panics.
func FuzzRead(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		s := NewSet()
		rep, err := Read("fuzz", bytes.NewReader(data), s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if rep.Added < s.Len() {
			t.Fatalf("added %d but set holds %d", rep.Added, s.Len())
		}
		now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for a, ind := range s.ips {
			if s.MatchIP(a, now) == nil && ind.ValidUntil.IsZero() {
				t.Fatalf("listed address %v does not match", a)
			}
		}
		for d, ind := range s.domains {
			if ind.Value != d || strings.ToLower(d) != d {
				t.Fatalf("domain key %q value %q", d, ind.Value)
			}
			if s.MatchDomain("x."+d, now) == nil && ind.ValidUntil.IsZero() {
				t.Fatalf("subdomain of %q does not match", d)
			}
		}
		for _, ind := range s.certs {
			if len(ind.Value) != 40 {
				t.Fatalf("fingerprint %q", ind.Value)
			}
		}
		s.MatchIP(netip.MustParseAddr("10.0.0.1"), now)
		s.MatchDomain(string(data[:min(len(data), 300)]), now)
	})
}

// FuzzPattern: the STIX pattern parser returns values of known types or
// an error, within its bounds.
func FuzzPattern(f *testing.F) {
	for _, p := range []string{
		"[ipv4-addr:value = '198.51.100.1'] OR [ipv4-addr:value = '192.0.2.0/28']",
		"[domain-name:value = 'evil.example' OR domain-name:value = 'worse.example']",
		"[x509-certificate:hashes.'SHA-1' = '0ddb34f875632c7e1ec09d75827f82d2336dfeb6']",
		"([ipv4-addr:value IN ('10.0.0.3', '10.0.0.4')] OR ([domain-name:value = 'o\\'b.example']))",
		"[file:hashes.'SHA-256' = 'aa'] AND [ipv4-addr:value = '1.1.1.1'] WITHIN 5 SECONDS",
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		vs, err := parsePattern(p)
		if err != nil {
			return
		}
		if len(vs) == 0 || len(vs) > maxValues {
			t.Fatalf("%d values", len(vs))
		}
		for _, v := range vs {
			switch v.typ {
			case TypeIP, TypeCIDR, TypeDomain, TypeCert:
			default:
				t.Fatalf("type %q", v.typ)
			}
		}
	})
}
