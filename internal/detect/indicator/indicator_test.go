package indicator

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) (*Set, Report) {
	t.Helper()
	s, rep, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return s, rep
}

var t0 = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func TestSSLBLCertificateList(t *testing.T) {
	s, rep := mustLoad(t, "sslbl-sample.csv")
	if rep.Added != 3 || s.Len() != 3 {
		t.Fatalf("added %d, len %d; want 3", rep.Added, s.Len())
	}
	ind := s.MatchCert("A51904EC58F506E8E4229F9324039527B0F842F4", t0)
	if ind == nil || ind.Type != TypeCert || ind.Description != "CobaltStrike C&C" || ind.Source != "sslbl-sample.csv:12" {
		t.Fatalf("match = %+v", ind)
	}
	if s.MatchCert("a51904ec58f506e8e4229f9324039527b0f842f5", t0) != nil {
		t.Error("a different fingerprint matched")
	}
	if s.MatchCert("not hex", t0) != nil {
		t.Error("garbage matched")
	}
}

func TestSSLBLIPList(t *testing.T) {
	s, _ := mustLoad(t, "sslbl-ip-sample.csv")
	if s.Len() != 2 {
		t.Fatalf("len %d", s.Len())
	}
	if ind := s.MatchIP(netip.MustParseAddr("203.0.113.77"), t0); ind == nil || ind.Type != TypeIP {
		t.Fatalf("no match: %+v", ind)
	}
	if s.MatchIP(netip.MustParseAddr("203.0.113.78"), t0) != nil {
		t.Error("neighbour matched")
	}
}

func TestPlainList(t *testing.T) {
	s, rep := mustLoad(t, "plain-sample.txt")
	if rep.Added != 7 {
		t.Fatalf("added %d, want 7", rep.Added)
	}
	cases := []struct {
		ip   string
		want string
	}{
		{"198.51.100.10", "198.51.100.10"},
		{"203.0.113.200", "203.0.113.0/24"},
		{"::ffff:203.0.113.5", "203.0.113.0/24"},
		{"2001:db8:bad:1::7", "2001:db8:bad::/48"},
		{"198.51.100.11", ""},
		{"2001:db8:bae::1", ""},
	}
	for _, c := range cases {
		ind := s.MatchIP(netip.MustParseAddr(c.ip), t0)
		got := ""
		if ind != nil {
			got = ind.Value
		}
		if got != c.want {
			t.Errorf("MatchIP(%s) = %q, want %q", c.ip, got, c.want)
		}
	}
	for name, want := range map[string]string{
		"bad.example": "bad.example", "WWW.Bad.Example.": "bad.example", "notbad.example": "",
		"pool.mining-pool.example": "mining-pool.example", "ads.tracker.example": "ads.tracker.example",
		"tracker.example": "", "example": "",
	} {
		ind := s.MatchDomain(name, t0)
		got := ""
		if ind != nil {
			got = ind.Value
		}
		if got != want {
			t.Errorf("MatchDomain(%s) = %q, want %q", name, got, want)
		}
	}
	if ind := s.MatchCert("0ddb34f875632c7e1ec09d75827f82d2336dfeb6", t0); ind == nil || ind.Description != "test certificate" {
		t.Errorf("cert with colons: %+v", ind)
	}
	if ind := s.MatchDomain("bad.example", t0); ind.Description != "phishing kit" {
		t.Errorf("description %q", ind.Description)
	}
}

// The most specific block wins, whatever the order of the list.
func TestMostSpecificBlock(t *testing.T) {
	s := NewSet()
	for _, v := range []string{"10.0.0.0/8", "10.1.2.0/24", "10.1.0.0/16"} {
		if err := s.Add(Indicator{Type: TypeCIDR, Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	if ind := s.MatchIP(netip.MustParseAddr("10.1.2.3"), t0); ind.Value != "10.1.2.0/24" {
		t.Errorf("got %s", ind.Value)
	}
	if ind := s.MatchIP(netip.MustParseAddr("10.1.9.3"), t0); ind.Value != "10.1.0.0/16" {
		t.Errorf("got %s", ind.Value)
	}
	if err := s.Add(Indicator{Type: TypeCIDR, Value: "0.0.0.0/0"}); err == nil {
		t.Error("a block matching everything was accepted")
	}
}

func TestSTIXBundle(t *testing.T) {
	s, rep := mustLoad(t, "stix-bundle.json")
	// 2 addresses + 2 domains + 1 certificate; skipped: the file hash
	// pattern and the revoked indicator.
	if rep.Added != 5 || rep.Skipped != 2 {
		t.Fatalf("report %+v", rep)
	}
	if ind := s.MatchIP(netip.MustParseAddr("192.0.2.9"), t0); ind == nil || ind.ID != "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f" ||
		ind.Description != "Botnet C2 address" || len(ind.Labels) != 1 {
		t.Errorf("cidr from STIX: %+v", ind)
	}
	if s.MatchIP(netip.MustParseAddr("192.0.2.16"), t0) != nil {
		t.Error("outside the /28 matched")
	}
	if s.MatchIP(netip.MustParseAddr("203.0.113.9"), t0) != nil {
		t.Error("revoked indicator matched")
	}
	// valid_until: the domain indicators end on 2025-01-01.
	if s.MatchDomain("a.worse.example", t0) == nil {
		t.Error("domain not matched while valid")
	}
	if s.MatchDomain("a.worse.example", time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)) != nil {
		t.Error("domain matched after valid_until")
	}
	// valid_from is not enforced: retro-hunting in older captures.
	if s.MatchCert("0ddb34f875632c7e1ec09d75827f82d2336dfeb6", time.Date(2023, 12, 10, 0, 0, 0, 0, time.UTC)) == nil {
		t.Error("certificate not matched before valid_from")
	}
	joined := strings.Join(rep.Notes, "\n")
	if !strings.Contains(joined, "revoked") || !strings.Contains(joined, "file:hashes") {
		t.Errorf("notes do not explain the skips:\n%s", joined)
	}
}

func TestPatterns(t *testing.T) {
	good := map[string][]string{
		"[ipv4-addr:value = '10.0.0.1']":                                                 {"ip:10.0.0.1"},
		"[ipv6-addr:value = '2001:db8::/32']":                                            {"cidr:2001:db8::/32"},
		"[domain-name:value = 'a.example'] OR [domain-name:value = 'b.example']":         {"domain:a.example", "domain:b.example"},
		"([domain-name:value = 'a.example'] OR ([ipv4-addr:value = '10.0.0.2']))":        {"domain:a.example", "ip:10.0.0.2"},
		"[ipv4-addr:value IN ('10.0.0.3', '10.0.0.4')]":                                  {"ip:10.0.0.3", "ip:10.0.0.4"},
		"[x509-certificate:hashes.'SHA-1' = 'AABBCCDDEEFF00112233445566778899AABBCCDD']": {"cert-sha1:AABBCCDDEEFF00112233445566778899AABBCCDD"},
		"[x509-certificate:hashes.SHA1 = 'aabbccddeeff00112233445566778899aabbccdd']":    {"cert-sha1:aabbccddeeff00112233445566778899aabbccdd"},
		"[(ipv4-addr:value = '10.0.0.5' OR ipv4-addr:value = '10.0.0.6')]":               {"ip:10.0.0.5", "ip:10.0.0.6"},
		"[domain-name:value = 'o\\'brien.example']":                                      {"domain:o'brien.example"},
		"[network-traffic:dst_ref.value = '10.0.0.7']":                                   {"ip:10.0.0.7"},
	}
	for p, want := range good {
		vs, err := parsePattern(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		var got []string
		for _, v := range vs {
			got = append(got, string(v.typ)+":"+v.value)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: got %v, want %v", p, got, want)
		}
	}
	bad := map[string]string{
		"":                              "empty",
		"[ipv4-addr:value = '10.0.0.1'": "expected ]",
		"[ipv4-addr:value = '10.0.0.1' AND ipv4-addr:value = '10.0.0.2']":                     "AND",
		"[ipv4-addr:value = '10.0.0.1'] AND [domain-name:value = 'x.example']":                "AND",
		"[ipv4-addr:value != '10.0.0.1']":                                                     "expected = or IN",
		"[url:value = 'http://x.example/']":                                                   "object path",
		"[ipv4-addr:value = '10.0.0.1'] WITHIN 5 SECONDS":                                     "qualifier",
		"[ipv4-addr:value = 10]":                                                              "quoted string",
		"[ipv4-addr:value = 'unterminated]":                                                   "unterminated",
		strings.Repeat("(", 100) + "[ipv4-addr:value = '1.1.1.1']" + strings.Repeat(")", 100): "nested too deeply",
	}
	for p, want := range bad {
		_, err := parsePattern(p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to mention %q", p, err, want)
		}
	}
}

// Errors name the file, line and column, so the user can fix the list.
func TestErrorsArePrecise(t *testing.T) {
	cases := []struct {
		data string
		want string
	}{
		{"10.0.0.1\n\n  not-an-indicator here\n", "list.txt:3:3: \"not-an-indicator\" is not"},
		{"10.0.0.1\n999.1.1.1\n", "list.txt:2:1:"},
		{"{\n  \"type\": \"bundle\",\n  \"objects\": [ {\"type\": \"indicator\", \"valid_from\": \"yesterday\"} ]\n}\n", "list.txt:3:"},
		{"{\n  \"type\": \"report\"\n}\n", "list.txt:2:"},
		{"{\n  \"type\": \"bundle\",\n  \"objects\": [ {\"type\": \n", "list.txt:"},
		{"{\"type\": \"bundle\"}", "no \"objects\""},
		{strings.Repeat("a", MaxLine+10) + "\n", "longer than"},
		{"first,second\nx,y\n", "list.txt:2:1: no field"},
	}
	for _, c := range cases {
		_, err := Read("list.txt", strings.NewReader(c.data), NewSet())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", shorten(c.data), err, c.want)
		}
	}
	// A CSV header row is not an error.
	if _, err := Read("h.csv", strings.NewReader("first_seen,dst_ip,dst_port\n2024-01-01,10.0.0.1,443\n"), NewSet()); err != nil {
		t.Errorf("header row: %v", err)
	}
	var le *LineError
	_, err := Read("x", strings.NewReader("nope\n"), NewSet())
	if !errors.As(err, &le) || le.Line != 1 {
		t.Errorf("error type %T %v", err, err)
	}
}

func TestLoadAllMerges(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.txt")
	b := filepath.Join(dir, "b.txt")
	os.WriteFile(a, []byte("10.0.0.1 first\n"), 0o644)
	os.WriteFile(b, []byte("10.0.0.1 second\nbad.example\n"), 0o644)
	s, reps, err := LoadAll([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || len(reps) != 2 || len(s.Sources()) != 2 {
		t.Fatalf("len %d reps %d sources %v", s.Len(), len(reps), s.Sources())
	}
	if _, _, err := LoadAll([]string{a, filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing file accepted")
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	s, _ := mustLoad(t, "plain-sample.txt")
	ip := netip.MustParseAddr("203.0.113.200")
	n := testing.AllocsPerRun(100, func() {
		s.MatchIP(ip, t0)
		s.MatchDomain("Pool.Mining-Pool.Example", t0)
		s.MatchCert("0ddb34f875632c7e1ec09d75827f82d2336dfeb6", t0)
	})
	if n != 0 {
		t.Errorf("%v allocations per match", n)
	}
}
