package report

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/sensor"
)

var t0 = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

func ep(ip string, port uint16) event.Endpoint {
	return event.Endpoint{IP: netip.MustParseAddr(ip), Port: port}
}

func obs(at time.Time, flow string, src, dst event.Endpoint, proto string, ws ...event.Weakness) *event.Observation {
	return &event.Observation{V: 1, Type: "observation", Time: at, Flow: flow, Src: src, Dst: dst, Proto: proto, Kind: "k", Weaknesses: ws}
}

func TestCollectorAggregates(t *testing.T) {
	c := NewCollector()
	client, server := ep("10.0.0.5", 51000), ep("10.0.0.9", 23)
	login := event.Weakness{Kind: event.WeakCleartextLogin, About: event.AboutDst, Detail: "Telnet"}
	phi := event.Weakness{Kind: event.WeakCleartextPHI, About: event.AboutSrc, Detail: "PID"}
	// Three logins on three flows from different client ports: one
	// weakness on the server's port, counted three times.
	for i := 0; i < 3; i++ {
		client.Port++
		c.Observe(obs(t0.Add(time.Duration(i)*time.Second), string(rune('a'+i)), client, server, "telnet", login))
	}
	c.Observe(obs(t0, "h", ep("10.0.0.31", 40000), ep("10.0.0.30", 2575), "hl7", phi))
	c.Flow(&event.Flow{Proto: "telnet", Transport: "tcp", Client: client, Server: server, Counts: [2]event.Counts{{Packets: 3, Bytes: 300}, {Packets: 2, Bytes: 200}}})
	c.Flow(&event.Flow{Transport: "tcp", Client: client, Server: ep("10.0.0.9", 9999), Counts: [2]event.Counts{{Packets: 1, Bytes: 60}}})
	c.Flow(&event.Flow{Transport: "icmp", Client: client, Server: server, Counts: [2]event.Counts{{Packets: 1, Bytes: 60}}})
	c.Flow(&event.Flow{Proto: "telnet", Transport: "tcp", Client: client, Server: server, Continuing: true, Counts: [2]event.Counts{{Packets: 1, Bytes: 10}}})

	r := c.Report(sensor.Stats{Frames: 9}, []capture.InputStats{{Name: "x.pcap"}}, nil)
	if len(r.Weaknesses) != 2 {
		t.Fatalf("weaknesses %+v", r.Weaknesses)
	}
	// High severity sorts first.
	if r.Weaknesses[0].Kind != event.WeakCleartextPHI || r.Weaknesses[0].Port != 0 || r.Weaknesses[0].Endpoint != netip.MustParseAddr("10.0.0.31") {
		t.Errorf("first weakness %+v", r.Weaknesses[0])
	}
	w := r.Weaknesses[1]
	if w.Count != 3 || w.Port != 23 || len(w.Flows) != 3 || !w.FirstSeen.Equal(t0) || !w.LastSeen.Equal(t0.Add(2*time.Second)) {
		t.Errorf("telnet weakness %+v", w)
	}
	names := map[string]Protocol{}
	for _, p := range r.Protocols {
		names[p.Name] = p
	}
	// A continuing export adds packets but not a flow.
	if p := names["telnet"]; p.Flows != 1 || p.Packets != 6 || p.Bytes != 510 || p.Servers != 1 {
		t.Errorf("telnet %+v", p)
	}
	if names["unknown-tcp"].Flows != 1 || names["icmp"].Flows != 1 {
		t.Errorf("protocols %+v", r.Protocols)
	}
	if r.Devices == nil || r.Observations["telnet/k"] != 3 {
		t.Errorf("devices %v observations %v", r.Devices, r.Observations)
	}
}

func TestWriteText(t *testing.T) {
	r := &Report{
		Inputs:  []capture.InputStats{{Name: "a.pcap"}, {Name: "b.pcap", Error: "truncated after packet 7"}},
		Start:   t0,
		End:     t0.Add(90 * time.Second),
		Packets: sensor.Stats{Frames: 12345, Bytes: 2_500_000, Malformed: 2, Errors: map[string]uint64{"truncated TCP header": 2}},
		Devices: []event.Asset{{IPs: []netip.Addr{netip.MustParseAddr("10.0.0.9")}, MAC: "02:00:00:00:00:09", Role: "pacs",
			Services: []event.Service{{Transport: "tcp", Port: 104, Proto: "dicom"}}, Protocols: []string{"dicom"}}},
		Protocols: []Protocol{{Name: "dicom", Flows: 3, Packets: 1000, Bytes: 1_200_000, Servers: 1, Clients: 2}},
		Weaknesses: []Weakness{{Kind: event.WeakCleartextPHI, Severity: "high", Proto: "dicom", Endpoint: netip.MustParseAddr("10.0.0.9"), Port: 104, Count: 4, Detail: "patient attributes"},
			{Kind: event.WeakCleartextLogin, Severity: "low", Proto: "ftp", Endpoint: netip.MustParseAddr("2a00:800:1010::1"), Port: 21, Count: 1, Detail: "FTP"}},
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"2 captures, 12,345 packets, 2.5 MB", "(1m30s)",
		"DEVICES (1)", "10.0.0.9", "pacs", "tcp/104 dicom",
		"dicom     3      1,000    1.2 MB",
		"high      cleartext-phi    10.0.0.9:104",
		"[2a00:800:1010::1]:21",
		"b.pcap: truncated after packet 7", "2 malformed frames skipped (truncated TCP header 2)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q", n, got)
		}
	}
	for n, want := range map[uint64]string{999: "999 B", 1500: "1.5 kB", 2_500_000: "2.5 MB", 3_000_000_000: "3.0 GB"} {
		if got := bytesize(n); got != want {
			t.Errorf("bytesize(%d) = %q", n, got)
		}
	}
	if clip("abcdef", 4) != "abc…" || clip("abc", 4) != "abc" {
		t.Error("clip")
	}
}
