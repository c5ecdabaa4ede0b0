package filter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/testenv"
)

// decodeFile decodes every frame of a capture. Frames the decoder rejects
// are left out: the sensor drops them before its filter.
func decodeFile(t testing.TB, path string) []packet.Packet {
	t.Helper()
	src, err := capture.OpenFiles([]string{path})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer src.Close()
	var out []packet.Packet
	for {
		cp, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		var p packet.Packet
		if packet.Decode(cp.LinkType, cp.Data, &p) == nil {
			// The slices point into a buffer the next read reuses; the
			// filter never looks at them.
			p.IPPayload, p.Payload = nil, nil
			out = append(out, p)
		}
	}
	return out
}

func tcpdumpCount(t *testing.T, tcpdump, path, expr string) int {
	t.Helper()
	cmd := exec.Command(tcpdump, "-r", path, "-nn", "-q", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s '%s': %v: %s", filepath.Base(path), expr, err, stderr.String())
	}
	return bytes.Count(out, []byte("\n"))
}

// TestAgainstTcpdump compares the number of packets heir's filter and
// tcpdump's select from real captures. The captures and expressions are
// chosen where the two should agree: no IP fragments (heir filters whole
// datagrams) and, except for the vlan cases, no VLAN tags (tcpdump needs
// "vlan and" before tests on tagged frames, heir does not).
func TestAgainstTcpdump(t *testing.T) {
	tcpdump := testenv.Tool(t, "tcpdump")
	cases := []struct {
		file  string
		exprs []string
	}{
		{"pcap/lab/medlab-dev.pcap", []string{
			"tcp", "udp", "icmp", "arp", "ip", "ip6", "not ip", "not arp",
			"host 10.77.0.66", "src host 10.77.0.66", "dst host 10.77.0.41", "ip host 10.77.0.10",
			"arp host 10.77.0.66", "src and dst net 10.77.0.0/24", "net 10.77.0.64/26",
			"src net 10.77.0.0/27", "dst net 10.77.0.32 mask 255.255.255.224", "net 10.77", "net 10.77.0.255",
			"port 1883", "tcp port 4242", "dst port 2575", "src port 4242", "src or dst port 23",
			"portrange 1-1024", "tcp portrange 20-23", "tcp dst portrange 1-1024", "udp port 53",
			"ether host 02:4d:4c:00:00:0a", "ether src 02:4d:4c:00:00:42", "ether dst ff:ff:ff:ff:ff:ff",
			"ether src 2:4d:4c:0:0:14 or 2:4d:4c:0:0:1e",
			"not arp and not port 1883", "host 10.77.0.66 and (port 21 or port 23)",
			"tcp and not (port 1883 or port 4242)", "port 21 or 23 or 2575",
			"host 10.77.0.66 or 10.77.0.41 and tcp", "host 10.77.0.66 or (host 10.77.0.41 and tcp)",
			"! tcp || icmp", "not host 10.77.0.66 and not 10.77.0.41", "ip proto 6", "proto 1",
			"tcp and src port 1883 and dst net 10.77.0.64/26", "vlan",
		}},
		{"pcap/ndpi/http_ipv6.pcap", []string{
			"ip6", "ip", "tcp", "udp", "icmp6", "tcp port 443", "port 80", "ip6 and tcp",
			"host 2a00:1450:4001:803::1017", "src host 2a00:d40:1:3:7aac:c0ff:fea7:d4c",
			"net 2a00:1450::/32", "dst net 2a03:b0c0::/32", "ip6 net 2a02:26f0:ad::/48",
			"ip6 proto 17", "src portrange 1024-65535",
		}},
		{"pcap/ndpi/dns.pcap", []string{"vlan", "vlan 421", "vlan and vlan", "vlan 421 and vlan"}},
		{"pcap/ndpi/syslog.pcap", []string{"vlan", "not vlan", "vlan and udp port 514", "vlan and src net 172.16.0.0/12"}},
		{"pcap/ndpi/snmp.pcap", []string{"vlan", "vlan and udp", "vlan and dst port 161"}},
		{"pcap/ndpi/coap_mqtt.pcap", []string{"udp", "udp port 5683", "tcp port 1883", "port 1883 or 5683", "ip6"}},
		{"pcap/ndpi/synscan.pcap", []string{"tcp", "dst portrange 1-1023", "src host 172.16.0.8", "tcp and not port 80"}},
		{"pcap/ndpi/modbus.pcap", []string{"tcp port 502", "arp", "not tcp"}},
	}
	for _, c := range cases {
		path := testenv.DataFile(t, c.file)
		pkts := decodeFile(t, path)
		for _, expr := range c.exprs {
			f, err := Parse(expr)
			if err != nil {
				t.Errorf("Parse(%q): %v", expr, err)
				continue
			}
			got := 0
			for i := range pkts {
				if f.Match(&pkts[i]) {
					got++
				}
			}
			want := tcpdumpCount(t, tcpdump, path, expr)
			if got != want {
				t.Errorf("%s: %q: heir selects %d packets, tcpdump %d", c.file, expr, got, want)
			} else {
				t.Logf("%s: %q: %d packets", filepath.Base(c.file), expr, got)
			}
		}
	}
}

// TestDifferencesFromTcpdump pins the documented differences (docs/filter.md):
// each case checks tcpdump's count too, so the test fails if a capture or
// tcpdump stops showing the difference.
func TestDifferencesFromTcpdump(t *testing.T) {
	tcpdump := testenv.Tool(t, "tcpdump")
	cases := []struct {
		file, expr string
		heir, tcp  int
		why        string
	}{
		// Two of the five frames carry DNS in PPPoE under two VLAN tags:
		// tcpdump needs "vlan and vlan and pppoes and" to look inside.
		{"pcap/ndpi/dns.pcap", "udp port 53", 5, 3, "tests see through VLAN tags and PPPoE"},
		// tcpdump's "vlan 785" tests the outer tag only (421); heir's any tag.
		{"pcap/ndpi/dns.pcap", "vlan 785", 2, 0, "vlan ID matches any of the tags"},
		// tcpdump's "vlan" moves the offsets of the tests after it even when
		// negated, so it finds no UDP at all; heir means what it says.
		{"pcap/ndpi/dns.pcap", "not vlan and udp port 53", 3, 0, "vlan does not shift later tests"},
		// One tag skipped, tcpdump finds the inner tag where IP should be.
		{"pcap/ndpi/dns.pcap", "vlan and udp", 2, 0, "tcpdump needs one vlan per tag"},
	}
	for _, c := range cases {
		path := testenv.DataFile(t, c.file)
		pkts := decodeFile(t, path)
		f, err := Parse(c.expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.expr, err)
		}
		got := 0
		for i := range pkts {
			if f.Match(&pkts[i]) {
				got++
			}
		}
		if got != c.heir {
			t.Errorf("%s: %q (%s): heir selects %d, want %d", c.file, c.expr, c.why, got, c.heir)
		}
		if n := tcpdumpCount(t, tcpdump, path, c.expr); n != c.tcp {
			t.Errorf("%s: %q (%s): tcpdump selects %d, want %d", c.file, c.expr, c.why, n, c.tcp)
		}
	}
}
