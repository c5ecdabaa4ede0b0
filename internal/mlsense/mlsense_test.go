package mlsense

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/ml"
	"github.com/heir-emd/heir/internal/taxonomy"
)

// cols are the model's features: a few of the dataset's columns, in an
// order other than features.Names, so that the mapping by name matters.
var cols = []string{"syn_flag_number", "Number", "Protocol Type", "AVG"}

// synModel trains a tree that calls a flow of few packets, mostly SYN, a
// "DoS-SYN", a TCP flow of many packets "Benign", and a short UDP flow
// "Recon-Port_Scan".
func synModel(t testing.TB) *ml.Model {
	t.Helper()
	task := &ml.Task{Features: cols, Classes: []string{"Benign", "DoS-SYN", "Recon-Port_Scan"}, D: len(cols)}
	for i := 0; i < 300; i++ {
		var row []float32
		y := i % 3
		switch y {
		case 0:
			row = []float32{0.05, float32(20 + i%50), 6, float32(200 + i%400)}
		case 1:
			row = []float32{float32(0.5 + float64(i%5)/10), float32(1 + i%2), 6, 60}
		case 2:
			row = []float32{0, float32(1 + i%2), 17, float32(60 + i%10)}
		}
		task.X = append(task.X, row...)
		task.Y = append(task.Y, y)
		task.N++
	}
	cfg := ml.DefaultConfig(ml.Tree)
	m, err := ml.Train(context.Background(), task, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var t0 = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

func flow(id string, at time.Time, client, server string, sport, dport uint16, transport string, pkts uint64, syn uint32, mean float64) *event.Flow {
	return &event.Flow{V: 1, Type: event.TypeFlow, ID: id, Start: at, End: at.Add(time.Millisecond), Transport: transport,
		Client:   event.Endpoint{IP: netip.MustParseAddr(client), Port: sport},
		Server:   event.Endpoint{IP: netip.MustParseAddr(server), Port: dport},
		Counts:   [2]event.Counts{{Packets: pkts, Bytes: pkts * uint64(mean)}, {}},
		Features: &event.Features{PktLenMin: uint32(mean), PktLenMax: uint32(mean), PktLenMean: mean, SYN: syn, ACK: uint32(pkts) - syn},
	}
}

// A SYN flood from many sources against one server is one alert against
// that server with every flow counted; a UDP scan from one source to many
// ports is one alert from that source; benign flows, and flows without
// packet features, raise none.
func TestIncidents(t *testing.T) {
	sink := detect.NewCollector()
	s, err := New(Config{Model: synModel(t), ModelID: "tree test"}, sink)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		s.Flow(flow(fmt.Sprintf("f%d", i), t0.Add(time.Duration(i)*10*time.Millisecond),
			fmt.Sprintf("198.51.100.%d", i+1), "10.0.0.5", uint16(40000+i), 443, "tcp", 1, 1, 60))
	}
	for i := 0; i < 30; i++ {
		s.Flow(flow(fmt.Sprintf("u%d", i), t0.Add(time.Second+time.Duration(i)*time.Millisecond),
			"10.0.0.66", "10.0.0.5", 50000, uint16(1000+i), "udp", 1, 0, 62))
	}
	for i := 0; i < 20; i++ {
		s.Flow(flow(fmt.Sprintf("b%d", i), t0.Add(2*time.Second), "10.0.0.20", "10.0.0.5", uint16(30000+i), 104, "tcp", 40, 2, 700))
	}
	noFeat := flow("nf", t0.Add(2*time.Second), "10.0.0.20", "10.0.0.5", 1, 104, "tcp", 1, 1, 60)
	noFeat.Features = nil
	s.Flow(noFeat)
	s.Flush()

	alerts := sink.Alerts()
	if len(alerts) != 2 {
		for _, a := range alerts {
			t.Logf("%s %s %s %d", a.Samples["class"], a.Source.IP, a.Title, a.Count)
		}
		t.Fatalf("%d alerts, want 2 (one flood, one scan)", len(alerts))
	}
	flood, scan := alerts[0], alerts[1]
	if flood.Samples["class"] != "DoS-SYN" || flood.Count != 50 || flood.Counts["sources"] != 50 ||
		flood.TargetCount != 1 || flood.Targets[0].IP != netip.MustParseAddr("10.0.0.5") || !flood.Final {
		t.Errorf("flood alert: %+v", flood)
	}
	if flood.Category != "denial-of-service" || flood.Model != "tree test" || flood.Rule != Rule || flood.Score < 0.9 {
		t.Errorf("flood alert fields: %q %q %q %v", flood.Category, flood.Model, flood.Rule, flood.Score)
	}
	if !flood.Start.Equal(t0) || !flood.End.Equal(t0.Add(490*time.Millisecond+time.Millisecond)) {
		t.Errorf("flood span %v – %v", flood.Start, flood.End)
	}
	if scan.Samples["class"] != "Recon-Port_Scan" || scan.Count != 30 || scan.Source.IP != netip.MustParseAddr("10.0.0.66") ||
		scan.TargetCount != 30 || len(scan.Targets) != maxTargets || scan.Category != "reconnaissance" {
		t.Errorf("scan alert: %+v", scan)
	}
	for _, a := range alerts {
		enisa := slices.ContainsFunc(a.Tags, func(tg event.Tag) bool { return tg.Taxonomy == event.TaxENISA })
		if !enisa || a.Remediation == "" || len(a.Evidence) == 0 {
			t.Errorf("%s: tags %v, remediation %q, evidence %d", a.Title, a.Tags, a.Remediation, len(a.Evidence))
		}
		for _, tg := range a.Tags {
			if !strings.Contains(tg.Reason, a.Samples["class"]) {
				t.Errorf("tag reason %q does not name the class", tg.Reason)
			}
		}
	}
	st := s.Stats()
	if st.Flows != 101 || st.NoFeatures != 1 || st.Scored != 100 || st.Benign != 20 || st.Attacks != 80 ||
		st.AlertsOpened != 2 || st.AlertsFinal != 2 || st.ByClass["DoS-SYN"] != 50 {
		t.Errorf("stats %+v", st)
	}
}

// An incident ends after Quiet without flows; the next flow of the same
// class opens a new alert. Updates come at most every Update.
func TestQuietAndUpdates(t *testing.T) {
	sink := &recorder{}
	s, err := New(Config{Model: synModel(t), Quiet: time.Minute, Update: 10 * time.Second}, sink)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ { // 40 s of flood, one flow a second
		s.Flow(flow(fmt.Sprintf("f%d", i), t0.Add(time.Duration(i)*time.Second), "198.51.100.1", "10.0.0.5", uint16(40000+i), 443, "tcp", 1, 1, 60))
	}
	s.Tick(t0.Add(39*time.Second + time.Minute + time.Second))
	s.Flow(flow("late", t0.Add(5*time.Minute), "198.51.100.1", "10.0.0.5", 1, 443, "tcp", 1, 1, 60))
	s.Flush()
	ids := map[string]int{}
	finals := 0
	for _, a := range sink.alerts {
		ids[a.ID]++
		if a.Final {
			finals++
		}
	}
	if len(ids) != 2 || finals != 2 {
		t.Fatalf("%d alerts (%v), %d final; want 2 incidents", len(ids), ids, finals)
	}
	// First incident: opened, updated about every 10 s over 40 s, final.
	if n := len(sink.alerts) - 2; n < 4 || n > 7 {
		t.Errorf("%d emissions of the first incident", n)
	}
}

// Threshold: a model sure of nothing raises nothing.
func TestThreshold(t *testing.T) {
	sink := detect.NewCollector()
	s, err := New(Config{Model: synModel(t), Threshold: 1}, sink)
	if err != nil {
		t.Fatal(err)
	}
	// A tree's leaves are pure here: probability 1 passes a threshold of 1.
	s.Flow(flow("a", t0, "198.51.100.1", "10.0.0.5", 1, 443, "tcp", 1, 1, 60))
	s.Flush()
	if len(sink.Alerts()) != 1 {
		t.Fatalf("pure leaf: %d alerts", len(sink.Alerts()))
	}
	if _, err := New(Config{Model: synModel(t), Threshold: 1.5}, sink); err == nil || !strings.Contains(err.Error(), "threshold") {
		t.Errorf("threshold 1.5: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	m := synModel(t)
	sink := detect.NewCollector()
	if _, err := New(Config{Model: m, Benign: []string{"nothing"}}, sink); err == nil || !strings.Contains(err.Error(), "no benign class") {
		t.Errorf("no benign class: %v", err)
	}
	if _, err := New(Config{Model: m, Benign: m.Classes}, sink); err == nil || !strings.Contains(err.Error(), "every class") {
		t.Errorf("all benign: %v", err)
	}
	other := *m
	other.Features = []string{"syn_flag_number", "bytes_per_fortnight", "Protocol Type", "AVG"}
	if _, err := New(Config{Model: &other}, sink); err == nil || !strings.Contains(err.Error(), `"bytes_per_fortnight"`) {
		t.Errorf("unknown feature: %v", err)
	}
	if _, err := New(Config{}, sink); err == nil {
		t.Error("no model accepted")
	}
}

// Every CICIoMT2024 class and category maps to a taxonomy class with an
// ENISA threat, and to the class of what it is, not the catch-all.
func TestCICIoMT2024Mapping(t *testing.T) {
	cat := taxonomy.New()
	seen := map[string]bool{}
	for _, l := range ml.CICIoMT2024Stems() {
		for _, g := range ml.Granularities {
			c := l.At(g)
			if seen[c] || strings.EqualFold(c, "benign") {
				continue
			}
			seen[c] = true
			mp := MappingOf(c)
			if mp == "attack-flow" && c != "Attack" {
				t.Errorf("%s: catch-all mapping", c)
			}
			m, ok := cat.Mapping(mp)
			if !ok || !slices.ContainsFunc(m.Tags, func(tg event.Tag) bool { return tg.Taxonomy == event.TaxENISA }) {
				t.Errorf("%s → %s: no mapping with an ENISA threat", c, mp)
			}
		}
	}
	want := map[string]string{"DDoS": "network-flood", "DoS": "network-flood", "Recon": "port-scan", "MQTT": "service-flood",
		"Spoofing": "arp-spoofing", "Recon-Ping_Sweep": "host-sweep", "MQTT-Malformed_Data": "malformed-input", "Attack": "attack-flow"}
	for c, mp := range want {
		if got := MappingOf(c); got != mp {
			t.Errorf("%s → %s, want %s", c, got, mp)
		}
	}
	if len(seen) < 6+18 {
		t.Errorf("only %d attack labels checked", len(seen))
	}
}

// Scoring a flow allocates nothing once its incident is open.
func TestFlowAllocs(t *testing.T) {
	s, err := New(Config{Model: synModel(t)}, detect.NewCollector())
	if err != nil {
		t.Fatal(err)
	}
	f := flow("a", t0, "198.51.100.1", "10.0.0.5", 1, 443, "tcp", 1, 1, 60)
	s.Flow(f)
	b := flow("b", t0, "10.0.0.20", "10.0.0.5", 2, 104, "tcp", 40, 2, 700)
	n := testing.AllocsPerRun(100, func() { s.Flow(f); s.Flow(b) })
	if n > 0 {
		t.Errorf("%v allocations per flow pair", n)
	}
}

type recorder struct{ alerts []*event.Alert }

func (r *recorder) Alert(a *event.Alert)   { r.alerts = append(r.alerts, a) }
func (r *recorder) Finding(*event.Finding) {}
