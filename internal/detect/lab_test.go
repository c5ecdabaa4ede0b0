package detect

import (
	"context"
	"encoding/json"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// window is one labelled activity of the lab capture's ground truth.
type window struct {
	ID       string   `json:"id"`
	Label    string   `json:"label"`
	Category string   `json:"category"`
	Protocol string   `json:"protocol"`
	Start    float64  `json:"start"`
	End      float64  `json:"end"`
	SrcIPs   []string `json:"src_ips"`
	DstIPs   []string `json:"dst_ips"`
	DstPorts []int    `json:"dst_ports"`
	Expected []struct {
		Type         string   `json:"type"`
		Protocol     string   `json:"protocol"`
		Username     string   `json:"username"`
		Password     string   `json:"password"`
		PatientNames []string `json:"patient_names"`
		PatientIDs   []string `json:"patient_ids"`
		BirthDates   []string `json:"birth_dates"`
		Addresses    []string `json:"addresses"`
		Phones       []string `json:"phones"`
	} `json:"expected_findings"`
}

func epoch(f float64) time.Time {
	s, frac := math.Modf(f)
	return time.Unix(int64(s), int64(math.Round(frac*1e6))*1000).UTC()
}

func (w *window) start() time.Time { return epoch(w.Start) }
func (w *window) end() time.Time   { return epoch(w.End) }

// holds says whether addr is one of the window's addresses (or in one of
// its blocks: the sweeps name 10.77.0.0/24).
func holds(list []string, addr netip.Addr) bool {
	for _, s := range list {
		if p, err := parsePrefix(s); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

func readGroundTruth(t *testing.T, path string) []window {
	return testenv.JSONLines[window](t, path)
}

// firstSeen is a Sink that remembers, for each alert, the event time at
// which it was first emitted (the End of its first version).
type firstSeen struct {
	*Collector
	first map[string]time.Time
}

func (f *firstSeen) Alert(a *event.Alert) {
	if _, ok := f.first[a.ID]; !ok {
		f.first[a.ID] = a.End
	}
	f.Collector.Alert(a)
}

// labelRules maps the lab's attack labels to the heir rules that report
// that kind of attack. It is the test's reading of the ground truth, not
// heir's: heir's rules key on behaviour (refused probes, failed logins,
// rejected AE titles …), never on this capture's ports, titles, users or
// patients.
var labelRules = map[string][]string{
	"attack-pingsweep":         {"host-sweep"},
	"attack-synscan":           {"port-scan"},
	"attack-dicom-scan":        {"service-probing", "dicom-ae-guessing", "dicom-discovery"},
	"attack-bruteforce-ftp":    {"bruteforce-login"},
	"attack-bruteforce-telnet": {"bruteforce-login"},
	"attack-dicom-assoc-storm": {"dicom-association-storm"},
	"attack-mqtt-flood":        {"mqtt-publish-flood"},
	"attack-dicom-exfil":       {"dicom-exfiltration"},
}

// slack is how far outside its window an alert may start: host sweeps
// count an ARP request once its answer has not come for a second, and the
// engine's clock ticks once a second.
const slack = 2 * time.Second

// TestLabCapture is the acceptance test on the labelled lab capture: every
// attack window raises an alert of the right kind against the right device
// within its time span, benign windows raise none, every alert belongs to
// an attack, and every cleartext-PHI and default-credential sighting is a
// finding.
func TestLabCapture(t *testing.T) {
	pcap := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	windows := readGroundTruth(t, testenv.DataFile(t, "pcap/lab/medlab-dev.ground_truth.jsonl"))
	sink := &firstSeen{Collector: NewCollector(), first: map[string]time.Time{}}
	e, err := New(Config{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	rec := &sensortest.Recorder{}
	src, err := capture.OpenFiles([]string{pcap})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := sensor.New(sensor.Config{Flow: flow.DefaultConfig, Packets: e}, dissectors(e), sensor.Tee(e, rec))
	if err := s.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	e.Flush()
	alerts := sink.Alerts()
	findings := sink.Findings()
	for _, a := range alerts {
		t.Logf("alert %-24s %s → %v  %s .. %s  %q", a.Rule, a.Source.IP, targetIPs(a), a.Start.Format("15:04:05.000"), a.End.Format("15:04:05.000"), a.Description)
	}

	// Attack windows.
	explained := map[string]bool{}
	for _, w := range windows {
		if w.Category != "attack" {
			continue
		}
		want, ok := labelRules[w.Label]
		if !ok {
			t.Errorf("%s: label %s has no mapping in the test", w.ID, w.Label)
			continue
		}
		var hit *event.Alert
		for i := range alerts {
			a := &alerts[i]
			if !slices.Contains(want, a.Rule) || !holds(w.SrcIPs, a.Source.IP) {
				continue
			}
			if a.Start.Before(w.start().Add(-slack)) || a.Start.After(w.end().Add(slack)) {
				continue
			}
			target := false
			for _, tg := range a.Targets {
				if holds(w.DstIPs, tg.IP) && (tg.Port == 0 || len(w.DstPorts) == 0 || slices.Contains(w.DstPorts, int(tg.Port))) {
					target = true
				}
			}
			if !target {
				continue
			}
			explained[a.ID] = true
			if hit == nil {
				hit = a
			}
		}
		if hit == nil {
			t.Errorf("%s %s (%s .. %s): no %v alert from %v against %v", w.ID, w.Label,
				w.start().Format("15:04:05.000"), w.end().Format("15:04:05.000"), want, w.SrcIPs, w.DstIPs)
			continue
		}
		t.Logf("%s %-26s → %-22s detected %6.2f s after the window opened", w.ID, w.Label, hit.Rule,
			sink.first[hit.ID].Sub(w.start()).Seconds())
	}
	// Every other alert must still lie within an attack window: the ones
	// that overlap one are further reports of that attack.
	for _, a := range alerts {
		if explained[a.ID] {
			continue
		}
		inAttack := false
		for _, w := range windows {
			if w.Category == "attack" && !a.Start.Before(w.start().Add(-slack)) && !a.Start.After(w.end().Add(slack)) && holds(w.SrcIPs, a.Source.IP) {
				inAttack = true
				t.Logf("also in %s %s: %s %q", w.ID, w.Label, a.Rule, a.Description)
				break
			}
		}
		if inAttack {
			continue
		}
		reason := "outside every labelled window"
		for _, w := range windows {
			if w.Category == "benign" && !a.Start.Before(w.start()) && !a.Start.After(w.end()) {
				reason = "in benign window " + w.ID + " " + w.Label
			}
		}
		t.Errorf("false alert (%s): rule %s, %s, start %s: %q", reason, a.Rule, a.Source.IP, a.Start.Format("15:04:05.000"), a.Description)
	}

	// Findings the ground truth expects, by device and protocol.
	proto := map[string]string{"hl7-mllp": "hl7", "http-basic": "http"}
	for _, w := range windows {
		for _, x := range w.Expected {
			kind := x.Type
			p := x.Protocol
			if q, ok := proto[p]; ok {
				p = q
			}
			var on []string
			switch kind {
			case "cleartext-phi":
				on = append(append(on, w.SrcIPs...), w.DstIPs...)
			case "default-credentials", "cleartext-credentials", "obsolete-tls", "weak-certificate":
				on = w.DstIPs
			case "unauthenticated-cleartext-mqtt":
				kind, p, on = "unauthenticated-access", "mqtt", w.DstIPs
			default:
				continue // alerts, checked above
			}
			if p == "" {
				p = w.Protocol
			}
			found := false
			for _, f := range findings {
				if f.Kind == kind && f.Proto == p && holds(on, f.Endpoint.IP) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s %s: no %s finding (%s) on %v", w.ID, w.Label, kind, p, on)
			}
		}
	}

	// Every sighting of patient data and default credentials counts in
	// exactly one finding: the findings' counts add up to the sightings.
	for _, kind := range []event.WeaknessKind{event.WeakCleartextPHI, event.WeakDefaultCredentials} {
		var sightings uint64
		for _, o := range rec.Observations {
			for _, w := range o.Weaknesses {
				if w.Kind != kind {
					continue
				}
				sightings++
				ep := o.Src
				if w.About == event.AboutDst {
					ep = o.Dst
				}
				ok := false
				for _, f := range findings {
					if f.Kind == string(kind) && f.Proto == o.Proto && f.Endpoint.IP == ep.IP {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s in %s/%s frame %d about %v has no finding", kind, o.Proto, o.Kind, o.Frame, ep.IP)
				}
			}
		}
		var counted uint64
		for _, f := range findings {
			if f.Kind == string(kind) {
				counted += f.Count
			}
		}
		if sightings == 0 || counted != sightings {
			t.Errorf("%s: %d sightings, findings count %d", kind, sightings, counted)
		}
	}

	// Nothing heir reports carries the patients' data or the passwords the
	// lab used.
	out, _ := json.Marshal(struct {
		A []event.Alert
		F []event.Finding
	}{alerts, findings})
	for _, w := range windows {
		for _, x := range w.Expected {
			for _, secret := range slices.Concat(x.PatientNames, x.PatientIDs, x.BirthDates, x.Addresses, x.Phones) {
				if secret != "" && strings.Contains(string(out), secret) {
					t.Errorf("patient data %q in alerts or findings", secret)
				}
			}
			if x.Password != "" && strings.Contains(string(out), "password\":\""+x.Password) {
				t.Errorf("password in alerts or findings")
			}
		}
	}
	// One incident, one alert: the MQTT flood's 132 connections are one.
	if n := len(byRule(sink.Collector, "mqtt-publish-flood")); n != 1 {
		t.Errorf("%d MQTT flood alerts", n)
	}
	st := e.Stats()
	t.Logf("engine: %d alerts (%d updates), %d findings, %d weaknesses; bounds hit: groups %d incidents %d findings %d hosts %d pairs %d",
		st.AlertsOpened, st.AlertUpdates, len(findings), st.Weaknesses, st.GroupsFull, st.IncidentsFull, st.FindingsFull, st.HostsFull, st.PairsFull)
}

func targetIPs(a event.Alert) []string {
	var out []string
	for i, t := range a.Targets {
		if i == 3 {
			out = append(out, "…")
			break
		}
		out = append(out, t.IP.String())
	}
	return out
}
