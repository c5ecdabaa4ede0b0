package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/detect/indicator"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/testenv"
)

// TestNDPICaptures runs nDPI's test captures (whose .out files flag the
// same risks) through the sensor and the shipped rules.
func TestNDPICaptures(t *testing.T) {
	dir := testenv.DataFile(t, "pcap/ndpi")
	type want = ndpiWant
	cases := map[string][]want{
		// nDPI: a SYN scan of 1000 ports, only the scanner's side captured.
		"synscan.pcap": {{alert: "port-scan", check: func(t *testing.T, as []event.Alert, _ []event.Finding) {
			a := as[0]
			if a.Samples["scan_type"] != "tcp-syn" || a.Counts["probes"] < 500 {
				t.Errorf("scan %+v", a)
			}
		}}},
		// nDPI: "Unsafe Protocol".
		"telnet.pcap": {{finding: "cleartext-login", proto: "telnet"}, {finding: "cleartext-credentials", proto: "telnet"}},
		// nDPI: "Unsafe Protocol", "Clear-Text Credentials".
		"ftp.pcap": {{finding: "cleartext-login", proto: "ftp"}, {finding: "cleartext-credentials", proto: "ftp"}},
		// nDPI: "Clear-Text Credentials" (HTTP Basic).
		"http_auth.pcap": {{finding: "cleartext-credentials", proto: "http", check: func(t *testing.T, _ []event.Alert, fs []event.Finding) {
			for _, f := range fs {
				if f.Rule == "cleartext-credentials" && !strings.Contains(f.Detail, "Basic") {
					t.Errorf("not Basic: %q", f.Detail)
				}
			}
		}}},
		// nDPI: "SQL Injection".
		"sql_injection.pcap": {{alert: "web-injection", check: func(t *testing.T, as []event.Alert, _ []event.Finding) {
			for _, a := range as {
				if a.Rule == "web-injection" && !strings.Contains(a.Samples["class"], "sqli") {
					t.Errorf("class %q", a.Samples["class"])
				}
			}
		}}},
		// nDPI: "SMB Insecure Vers".
		"smbv1.pcap": {{finding: "smbv1", proto: "smb"}},
		// nDPI: "Self-signed Cert", "TLS Cert Expired".
		"selfsigned.pcap": {{finding: "weak-certificate", proto: "tls", check: func(t *testing.T, _ []event.Alert, fs []event.Finding) {
			for _, f := range fs {
				if f.Rule == "weak-certificate" && !strings.Contains(f.Detail, "self-signed") {
					t.Errorf("detail %q", f.Detail)
				}
			}
		}}},
	}
	for name, wants := range cases {
		t.Run(name, func(t *testing.T) {
			e, c := newTestEngine(t, Config{})
			runCapture(t, e, filepath.Join(dir, name))
			checkWants(t, c, wants)
		})
	}
}

// ndpiWant is what one capture must give.
type ndpiWant struct {
	alert   string // rule of an alert that must be raised
	finding string // rule of a finding that must be made
	proto   string // the finding's protocol
	check   func(t *testing.T, alerts []event.Alert, findings []event.Finding)
}

func checkWants(t *testing.T, c *Collector, wants []ndpiWant) {
	t.Helper()
	alerts, findings := c.Alerts(), c.Findings()
	for _, v := range wants {
		if v.alert != "" && len(byRule(c, v.alert)) == 0 {
			t.Errorf("no %s alert; alerts: %v", v.alert, rules(alerts))
		}
		if v.finding != "" {
			ok := false
			for _, f := range findings {
				if f.Rule == v.finding && f.Proto == v.proto {
					ok = true
				}
			}
			if !ok {
				t.Errorf("no %s finding for %s; findings: %v", v.finding, v.proto, frules(findings))
			}
		}
		if v.check != nil && len(alerts)+len(findings) > 0 {
			v.check(t, alerts, findings)
		}
	}
}

func rules(as []event.Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Rule)
	}
	return out
}

func frules(fs []event.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule+"/"+f.Proto)
	}
	return out
}

// tls_malicious_sha1.pcapng holds a TLS 1.2 session whose certificates
// are sound by every rule (SHA-256 signatures, RSA 2048, valid): nDPI
// flags it only because the leaf's SHA-1 fingerprint is on abuse.ch's SSL
// blacklist. heir ships no blocklist (none can be fetched where it is
// built), so this checks the import-and-match path: an indicator file in
// SSLBL's published CSV format, naming that fingerprint, is imported, and
// the certificate then raises an alert and a finding. Without the import
// nothing is reported, which shows the verdict comes from the list.
func TestMaliciousCertificateByImportedList(t *testing.T) {
	pcap := testenv.DataFile(t, "pcap/ndpi/tls_malicious_sha1.pcapng")

	e, c := newTestEngine(t, Config{})
	runCapture(t, e, pcap)
	if len(c.Alerts())+len(c.Findings()) != 0 {
		t.Fatalf("without indicators: %v %v", rules(c.Alerts()), frules(c.Findings()))
	}

	// The SSLBL certificate blacklist format (sslbl.abuse.ch/blacklist/
	// sslblacklist.csv): a comment header, then Listingdate,SHA1,Listingreason.
	list := "################################################################\n" +
		"# abuse.ch SSLBL SSL Certificate Blacklist (SHA1 Fingerprints) #\n" +
		"################################################################\n" +
		"#\n" +
		"# Listingdate,SHA1,Listingreason\n" +
		"2023-12-10 00:00:00,0ddb34f875632c7e1ec09d75827f82d2336dfeb6,Test listing (nDPI risk test)\n"
	path := filepath.Join(t.TempDir(), "sslblacklist.csv")
	if err := os.WriteFile(path, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	set, _, err := indicator.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e, c = newTestEngine(t, Config{Indicators: set})
	runCapture(t, e, pcap)
	a := byRule(c, "known-bad-peer")
	if len(a) != 1 || a[0].Samples["type"] != "cert-sha1" || a[0].Samples["source"] != "sslblacklist.csv:6" ||
		a[0].Targets[0].Port != 443 || a[0].Source.IP.String() != "2001:b07:a3d:c112:9726:f643:a838:b0c4" {
		t.Fatalf("alerts %+v", a)
	}
	fs := c.Findings()
	if len(fs) != 1 || fs[0].Rule != "blocklisted-certificate" || fs[0].Endpoint.Port != 443 || !strings.Contains(fs[0].Detail, "Test listing") {
		t.Fatalf("findings %+v", fs)
	}
}
