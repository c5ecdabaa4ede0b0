package registry_test

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// ndpiNames maps nDPI's protocol names (the master protocol, before any
// dot) to heir's dissector names.
var ndpiNames = map[string]string{
	"HTTP":         "http",
	"HTTP_Proxy":   "http",
	"HTTP_Connect": "http",
	// nDPI names SOAP over HTTP/1.x "SOAP" when it recognises the body
	// before the HTTP request line: the flow is HTTP.
	"SOAP":        "http",
	"TLS":         "tls",
	"DTLS":        "dtls",
	"DNS":         "dns",
	"MDNS":        "dns",
	"LLMNR":       "dns",
	"DHCP":        "dhcp",
	"DHCPV6":      "dhcpv6",
	"MQTT":        "mqtt",
	"HL7":         "hl7",
	"DICOM":       "dicom",
	"Telnet":      "telnet",
	"FTP_CONTROL": "ftp",
	"FTP_DATA":    "ftp-data",
	"SMBv1":       "smb",
	"SMBv23":      "smb",
	"SSH":         "ssh",
	"NetBIOS":     "nbns",
}

// ndpiFlow is one line of an nDPI .out file.
type ndpiFlow struct {
	key   string
	proto string // nDPI's protocol name
}

// "	1	TCP 10.0.0.155:49242 <-> 10.0.0.126:6661 [proto: 380/HL7]…"
var ndpiLine = regexp.MustCompile(`^\s*\d+\s+(TCP|UDP)\s+(\S+)\s+<?->\s+(\S+)\s+(?:\[VLAN: \d+\])?\s*\[proto: [0-9.]+/([^\]]+)\]`)

var ndpiConfidence = regexp.MustCompile(`\]\[Confidence: ([^\]]+)\]`)

func parseOut(t *testing.T, path string) []ndpiFlow {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ndpiFlow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := ndpiLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		a, err1 := netip.ParseAddrPort(m[2])
		b, err2 := netip.ParseAddrPort(m[3])
		if err1 != nil || err2 != nil {
			continue
		}
		// "NetBIOS.SMBv1", "TLS.Google": the application part names the
		// protocol when heir knows it (SMB over NetBIOS), else the master.
		name := m[4]
		if master, app, ok := strings.Cut(name, "."); ok {
			name = master
			if _, known := ndpiNames[app]; known {
				name = app
			}
		}
		// Only content verdicts count: a protocol nDPI guessed from the
		// port ("Match by port") is not a recognition heir should match.
		if c := ndpiConfidence.FindStringSubmatch(sc.Text()); c == nil || !strings.HasPrefix(c[1], "DPI") {
			name = "Unknown"
		}
		out = append(out, ndpiFlow{key: flowKey(strings.ToLower(m[1]), a, b), proto: name})
	}
	return out
}

func flowKey(transport string, a, b netip.AddrPort) string {
	x, y := a.String(), b.String()
	if x > y {
		x, y = y, x
	}
	return transport + " " + x + " " + y
}

type tally struct{ ndpi, heir, both, agree, missed int }

// TestAgreementWithNDPI compares heir's protocol per flow with nDPI's
// verdicts on nDPI's own test captures, for every protocol heir dissects:
// of the flows that both name, at least 95% must agree.
func TestAgreementWithNDPI(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "pcap", "ndpi")
	outs, _ := filepath.Glob(filepath.Join(dir, "*.out"))
	if len(outs) == 0 {
		t.Fatalf("no nDPI .out files in %s", dir)
	}
	ours := map[string]bool{}
	for _, n := range registry.Names() {
		ours[n] = true
	}
	if len(ours) == 0 {
		t.Fatal("no dissectors registered")
	}
	// Not a dissector: the connections the FTP dissector announces.
	ours["ftp-data"] = true
	ds := registry.All(registry.Options{})
	tallies := map[string]*tally{}
	get := func(p string) *tally {
		if tallies[p] == nil {
			tallies[p] = &tally{}
		}
		return tallies[p]
	}
	var disagreements, missed []string
	for _, out := range outs {
		capFile := strings.TrimSuffix(out, ".out")
		want := parseOut(t, out)
		if len(want) == 0 {
			continue
		}
		res := sensortest.Run(t, sensor.Config{}, ds, capFile)
		got := map[string]string{}
		for _, f := range res.Flows {
			k := flowKey(f.Transport, netip.AddrPortFrom(f.Client.IP, f.Client.Port), netip.AddrPortFrom(f.Server.IP, f.Server.Port))
			if f.Proto != "" || got[k] == "" {
				got[k] = f.Proto
			}
		}
		for _, w := range want {
			theirs := ndpiNames[w.proto] // "" when heir has no such dissector
			if w.proto == "NetBIOS" && strings.HasPrefix(w.key, "tcp ") {
				// NetBIOS over TCP is the session service that carries SMB:
				// heir's smb dissector reads it.
				theirs = "smb"
			}
			if theirs != "" && !ours[theirs] {
				theirs = ""
			}
			mine, seen := got[w.key]
			if !seen {
				continue // flow not in heir's table (e.g. nDPI's own flow splitting)
			}
			known := w.proto != "Unknown"
			if theirs != "" {
				get(theirs).ndpi++
				if mine == "" {
					get(theirs).missed++
					missed = append(missed, fmt.Sprintf("%s %s: nDPI %s", filepath.Base(capFile), w.key, w.proto))
				}
			}
			if mine != "" {
				get(mine).heir++
			}
			if !known || mine == "" {
				continue
			}
			for _, p := range uniq(theirs, mine) {
				if p == "" {
					continue
				}
				get(p).both++
				if theirs == mine {
					get(p).agree++
				}
			}
			if theirs != mine && (theirs != "" || mine != "") {
				disagreements = append(disagreements, fmt.Sprintf("%s %s: nDPI %s, heir %q", filepath.Base(capFile), w.key, w.proto, mine))
			}
		}
	}
	names := make([]string, 0, len(tallies))
	for n := range tallies {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %6s %6s %6s %6s %8s %8s\n", "proto", "nDPI", "heir", "both", "agree", "agree%", "missed")
	for _, n := range names {
		c := tallies[n]
		pct := "-"
		if c.both > 0 {
			pct = strconv.FormatFloat(100*float64(c.agree)/float64(c.both), 'f', 1, 64)
		}
		fmt.Fprintf(&b, "%-8s %6d %6d %6d %6d %8s %8d\n", n, c.ndpi, c.heir, c.both, c.agree, pct, c.missed)
	}
	t.Logf("agreement with nDPI per protocol (flows):\n%s", b.String())
	for _, d := range disagreements {
		t.Logf("disagreement: %s", d)
	}
	for _, d := range missed {
		t.Logf("not recognised by heir: %s", d)
	}
	for _, n := range names {
		c := tallies[n]
		if c.ndpi > 0 && c.both == 0 {
			t.Errorf("%s: nDPI names %d flows, heir recognises none of them", n, c.ndpi)
		}
		if c.both > 0 && float64(c.agree) < 0.95*float64(c.both) {
			t.Errorf("%s: heir and nDPI agree on %d of %d flows both name (< 95%%)", n, c.agree, c.both)
		}
	}
	for n := range ours {
		if tallies[n] == nil || tallies[n].both == 0 {
			t.Logf("%s: no flow in the nDPI captures that both name", n)
		}
	}
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}
