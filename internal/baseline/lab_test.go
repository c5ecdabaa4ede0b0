package baseline

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/credential"
	"github.com/heir-emd/heir/internal/demo"
	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// gtWindow is one labelled activity of the lab capture's ground truth.
type gtWindow struct {
	ID       string   `json:"id"`
	Label    string   `json:"label"`
	Category string   `json:"category"`
	Start    float64  `json:"start"`
	End      float64  `json:"end"`
	SrcIPs   []string `json:"src_ips"`
	DstIPs   []string `json:"dst_ips"`
}

func epoch(f float64) time.Time {
	s, frac := math.Modf(f)
	return time.Unix(int64(s), int64(math.Round(frac*1e6))*1000).UTC()
}

func readGroundTruth(t *testing.T, path string) []gtWindow {
	return testenv.JSONLines[gtWindow](t, path)
}

// until ends a source at a capture time: the benign part of the capture.
type until struct {
	capture.Source
	end time.Time
}

func (u until) Next(ctx context.Context) (*capture.Packet, error) {
	p, err := u.Source.Next(ctx)
	if err == nil && p.Time.After(u.end) {
		return nil, io.EOF
	}
	return p, err
}

// labRun is one replay plan of the lab capture through one baseline.
type labRun struct {
	pcap   string
	b      *Baseline
	sink   *detect.Collector
	rec    *sensortest.Recorder // what the full capture produced (the test's own view of who talked to whom)
	shift  time.Duration        // of the full capture
	replay time.Duration        // of the benign replay after the attacks
}

func (r *labRun) segment(t *testing.T, by time.Duration, cut time.Time, rec *sensortest.Recorder) {
	t.Helper()
	src, err := capture.OpenFiles([]string{r.pcap})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var s capture.Source = src
	if !cut.IsZero() {
		s = until{Source: src, end: cut}
	}
	out := sensor.Output(r.b)
	if rec != nil {
		out = sensor.Tee(r.b, rec)
	}
	ds := registry.All(registry.Options{Defaults: credential.Defaults()})
	sn := sensor.New(sensor.Config{Flow: flow.DefaultConfig}, ds, out)
	if err := sn.Run(context.Background(), demo.Shifted{Source: s, By: by}); err != nil {
		t.Fatal(err)
	}
}

// TestLabCapture is the acceptance test on the labelled lab capture. The
// baseline learns on the benign windows (their span, from the ground
// truth), once or on several replays of them (so that the numeric
// features have values enough to be scored); then the whole capture is
// run: every device the attacker touched in an attack window, and the
// attacker, must show an anomaly during that window; nothing may be
// raised outside the attacks; and the benign part replayed after the
// attacks (shifted in time) must raise nothing, since every device does
// again exactly what it learnt.
func TestLabCapture(t *testing.T) {
	pcap := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	windows := readGroundTruth(t, testenv.DataFile(t, "pcap/lab/medlab-dev.ground_truth.jsonl"))
	for _, cycles := range []int{1, 4} {
		t.Run(fmt.Sprintf("learn-%dx", cycles), func(t *testing.T) { labCapture(t, pcap, windows, cycles) })
	}
}

func labCapture(t *testing.T, pcap string, windows []gtWindow, cycles int) {
	var benignStart, benignEnd, attackStart, attackEnd time.Time
	for _, w := range windows {
		s, e := epoch(w.Start), epoch(w.End)
		switch w.Category {
		case "benign":
			if benignStart.IsZero() || s.Before(benignStart) {
				benignStart = s
			}
			if e.After(benignEnd) {
				benignEnd = e
			}
		case "attack":
			if attackStart.IsZero() || s.Before(attackStart) {
				attackStart = s
			}
			if e.After(attackEnd) {
				attackEnd = e
			}
		}
	}
	if benignStart.IsZero() || attackStart.IsZero() || !benignEnd.Before(attackStart) {
		t.Fatalf("ground truth: benign windows must come first (benign %v–%v, attacks from %v)", benignStart, benignEnd, attackStart)
	}
	span := benignEnd.Sub(benignStart)
	period := attackStart.Sub(benignStart)               // the benign part and the pause before the attacks
	cut := benignEnd.Add(attackStart.Sub(benignEnd) / 2) // the benign part's last packets, not the first attack's
	cfg := Config{
		// The benign windows' span (and its earlier replays) is the
		// learning period; one flow is enough (the lab's devices make a
		// handful each).
		LearnFor:   time.Duration(cycles-1)*period + span,
		LearnFlows: 1,
		// The lab's activities last seconds: count per second.
		Window: time.Second,
	}
	sink := detect.NewCollector()
	b, err := New(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	r := &labRun{pcap: pcap, b: b, sink: sink, rec: &sensortest.Recorder{}}
	for i := 0; i < cycles-1; i++ {
		r.segment(t, time.Duration(i)*period, cut, nil)
	}
	r.shift = time.Duration(cycles-1) * period
	r.segment(t, r.shift, time.Time{}, r.rec)
	// The replay starts once the attack's alerts have been quiet long
	// enough to end.
	r.replay = r.shift + attackEnd.Sub(benignStart) + DefaultConfig.Quiet + 10*time.Second
	replayStart := benignStart.Add(r.replay)
	r.segment(t, r.replay, cut, nil)
	b.Flush()

	alerts := sink.Alerts()
	for _, a := range alerts {
		t.Logf("%-20s %-12s %-6s %s .. %s score %-6g %s", a.Rule, a.Source.IP, a.Severity,
			a.Start.Add(-r.shift).Format("15:04:05.000"), a.End.Add(-r.shift).Format("15:04:05.000"), a.Score, a.Description)
	}
	if len(alerts) == 0 {
		t.Fatal("no alerts")
	}
	const slack = 2 * time.Second
	overlaps := func(a *event.Alert, w gtWindow) bool {
		s, e := epoch(w.Start).Add(r.shift-slack), epoch(w.End).Add(r.shift+slack)
		return !a.Start.After(e) && !a.End.Before(s)
	}
	// Devices of the network: the addresses that sent something in the
	// benign windows (the test's reading of the capture, not the
	// baseline's).
	known := map[netip.Addr]bool{}
	bs, be := benignStart.Add(r.shift), benignEnd.Add(r.shift)
	for _, f := range r.rec.Flows {
		if f.Start.Before(bs) || f.Start.After(be) {
			continue
		}
		known[f.Client.IP] = true
		if f.Counts[1].Packets > 0 {
			known[f.Server.IP] = true
		}
	}

	// Every attack window: the attacker and every known device it
	// exchanged a flow with in the window show an anomaly then.
	for _, w := range windows {
		if w.Category != "attack" {
			continue
		}
		ws, we := epoch(w.Start).Add(r.shift), epoch(w.End).Add(r.shift)
		attackers := map[netip.Addr]bool{}
		for _, s := range w.SrcIPs {
			attackers[netip.MustParseAddr(s)] = true
		}
		touched := map[netip.Addr]bool{}
		for _, f := range r.rec.Flows {
			if f.Start.Before(ws) || f.Start.After(we) {
				continue
			}
			if attackers[f.Client.IP] && known[f.Server.IP] {
				touched[f.Server.IP] = true
			}
			if attackers[f.Server.IP] && known[f.Client.IP] {
				touched[f.Client.IP] = true
			}
		}
		if len(touched) == 0 {
			t.Errorf("%s %s: the attacker touched no known device (test reading of the capture is wrong)", w.ID, w.Label)
		}
		for dev := range attackers {
			touched[dev] = true
		}
		var missing []string
		for dev := range touched {
			ok := false
			for i := range alerts {
				if alerts[i].Source.IP == dev && overlaps(&alerts[i], w) {
					ok = true
					break
				}
			}
			if !ok {
				missing = append(missing, dev.String())
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			t.Errorf("%s %s: no anomaly during the window for %v", w.ID, w.Label, missing)
		} else {
			t.Logf("%s %-26s: all %d devices involved show an anomaly", w.ID, w.Label, len(touched))
		}
	}

	// Specific expectations of the attacks' victims.
	byLabel := map[string]gtWindow{}
	for _, w := range windows {
		byLabel[w.Label] = w
	}
	want := func(label, dev, rule string, check func(a *event.Alert) bool, what string) {
		t.Helper()
		w, ok := byLabel[label]
		if !ok {
			t.Fatalf("no %s window in the ground truth", label)
		}
		ip := netip.MustParseAddr(dev)
		for i := range alerts {
			a := &alerts[i]
			if a.Source.IP == ip && a.Rule == rule && overlaps(a, w) && (check == nil || check(a)) {
				return
			}
		}
		t.Errorf("%s: no %s alert on %s (%s)", label, rule, dev, what)
	}
	exfil := byLabel["attack-dicom-exfil"]
	pacs := exfil.DstIPs[0]
	want("attack-dicom-exfil", pacs, RuleNewMessage, func(a *event.Alert) bool {
		return slices.ContainsFunc(a.Tags, func(t event.Tag) bool { return t.Taxonomy == event.TaxENISA && t.ID == "8" })
	}, "the archive answering queries/retrievals it never served, tagged as data breach")
	want("attack-dicom-exfil", pacs, RuleNewPeer, func(a *event.Alert) bool {
		return strings.Contains(a.Samples["new_values"], exfil.SrcIPs[0])
	}, "the archive's new peer")
	for _, label := range []string{"attack-bruteforce-ftp", "attack-bruteforce-telnet"} {
		w := byLabel[label]
		want(label, w.DstIPs[0], RuleNewPeer, func(a *event.Alert) bool {
			return strings.Contains(a.Samples["new_values"], w.SrcIPs[0])
		}, "the patient monitor's new peer")
	}
	flood := byLabel["attack-mqtt-flood"]
	want("attack-mqtt-flood", flood.DstIPs[0], RuleNewPeer, nil, "the broker's new peer")
	if cycles > 1 {
		// With several learnt replays the numeric features can score: the
		// flood is a burst of connections far beyond the learnt ones.
		want("attack-mqtt-flood", flood.DstIPs[0], RuleBurst, func(a *event.Alert) bool {
			return a.Score >= DefaultConfig.Threshold && strings.Contains(a.Samples["feature"], "flows received")
		}, "a burst of connections to the broker")
		want("attack-dicom-assoc-storm", byLabel["attack-dicom-assoc-storm"].DstIPs[0], RuleBurst, nil,
			"a burst of associations to the archive")
		want("attack-dicom-exfil", pacs, RuleFlowSize, func(a *event.Alert) bool {
			return strings.Contains(a.Samples["feature"], "bytes sent")
		}, "the archive sending far more in one flow than it ever did")
	}

	// Nothing outside the attacks: no alert starts before the first attack
	// or after the last (the benign part of the capture, after learning
	// when there were earlier replays, and the replay after the attacks).
	for _, a := range alerts {
		s := a.Start.Add(-r.shift)
		if s.Before(attackStart.Add(-slack)) || s.After(attackEnd.Add(slack)) {
			where := "before the attacks"
			if !a.Start.Before(replayStart) {
				where = "in the benign replay after the attacks"
			}
			t.Errorf("false anomaly %s: %s on %s at %s: %s", where, a.Rule, a.Source.IP, s.Format("15:04:05.000"), a.Description)
		}
	}
	st := b.Stats()
	t.Logf("baseline: %d devices (%d learning), %d alerts opened, %d updates, %d final; %d new values, %d numeric anomalies; by rule %v",
		st.Devices, st.Learning, st.AlertsOpened, st.AlertUpdates, st.AlertsFinal, st.NewValues, st.NumericAnomalies, st.ByRule)
}
