package cli

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/ml"
	"github.com/heir-emd/heir/internal/ml/dataset"
	"github.com/heir-emd/heir/internal/mlsense"
)

// The lab capture's ground truth (../shared/data/pcap/lab/
// medlab-dev.ground_truth.jsonl): the benign activities end at
// 15:44:08.343, the attacks run from 15:44:10.056 (the ping sweep) to
// 15:45:12.368; the SYN scan from 15:44:15.643 to 15:44:17.507. The
// attacker is 10.77.0.66.
var (
	labAttacks   = time.Unix(1795880650, 56000000).UTC()
	labSynScan   = [2]time.Time{time.Unix(1795880655, 643000000).UTC(), time.Unix(1795880657, 507000000).UTC()}
	labAttacker  = "10.77.0.66"
	labLearnArgs = []string{"--baseline-learn", "29s", "--baseline-learn-flows", "1", "--baseline-window", "1s"}
)

func analyzeAlerts(t *testing.T, args ...string) []event.Alert {
	t.Helper()
	code, out, errOut := heir(t, append([]string{"analyze", "--json"}, args...)...)
	if code != ExitOK {
		t.Fatalf("analyze %v: exit %d: %s", args, code, errOut)
	}
	var rep struct {
		Alerts []event.Alert `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	return rep.Alerts
}

func byRulePrefix(alerts []event.Alert, prefix string) []event.Alert {
	var out []event.Alert
	for _, a := range alerts {
		if strings.HasPrefix(a.Rule, prefix) {
			out = append(out, a)
		}
	}
	return out
}

func hasENISA(a *event.Alert) bool {
	return slices.ContainsFunc(a.Tags, func(t event.Tag) bool { return t.Taxonomy == event.TaxENISA && t.Reason != "" })
}

// checkBaselineAlerts: the attacker is a new device, the patient monitor
// it brute-forced has a new peer, every alert is tagged and none starts
// before the attacks (shift: how far the capture was moved in time).
func checkBaselineAlerts(t *testing.T, alerts []event.Alert, shift time.Duration) {
	t.Helper()
	if len(alerts) == 0 {
		t.Fatal("no baseline alerts")
	}
	newDevice, monitorPeer := false, false
	for i := range alerts {
		a := &alerts[i]
		if a.Start.Before(labAttacks.Add(shift - time.Second)) {
			t.Errorf("false anomaly before the attacks: %s on %s at %s: %s", a.Rule, a.Source.IP, a.Start, a.Description)
		}
		if !hasENISA(a) || a.Category != "anomaly" || a.Model != "baseline" {
			t.Errorf("%s on %s: category %q model %q tags %v", a.Rule, a.Source.IP, a.Category, a.Model, a.Tags)
		}
		newDevice = newDevice || (a.Rule == "baseline-new-device" && a.Source.IP.String() == labAttacker)
		monitorPeer = monitorPeer || (a.Rule == "baseline-new-peer" && a.Source.IP.String() == "10.77.0.50" &&
			strings.Contains(a.Samples["new_values"], labAttacker))
	}
	if !newDevice || !monitorPeer {
		t.Errorf("new device %s alerted %v; patient monitor's new peer alerted %v", labAttacker, newDevice, monitorPeer)
	}
}

// heir analyze: the baselines are opt-in (one capture has no history);
// with the benign part as learning period they flag the attacks only.
func TestAnalyzeBaseline(t *testing.T) {
	if got := byRulePrefix(analyzeAlerts(t, labCapture), "baseline-"); len(got) != 0 {
		t.Errorf("baseline alerts without --baseline-learn: %d", len(got))
	}
	alerts := byRulePrefix(analyzeAlerts(t, append(labLearnArgs, labCapture)...), "baseline-")
	checkBaselineAlerts(t, alerts, 0)
	t.Logf("%d baseline alerts", len(alerts))
}

// shiftPcap copies a little-endian classic pcap file with every packet
// moved by whole seconds, as if recorded later.
func shiftPcap(t *testing.T, src, dst string, by time.Duration) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(raw) != 0xa1b2c3d4 {
		t.Fatalf("%s: not a little-endian microsecond pcap", src)
	}
	out := slices.Clone(raw)
	for off := 24; off+16 <= len(out); {
		sec := binary.LittleEndian.Uint32(out[off:])
		binary.LittleEndian.PutUint32(out[off:], sec+uint32(by/time.Second))
		off += 16 + int(binary.LittleEndian.Uint32(out[off+8:]))
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

type baselineFile struct {
	Type    string `json:"type"`
	Devices []struct {
		IP string `json:"ip"`
	} `json:"devices"`
}

func readBaselineFile(t *testing.T, path string) baselineFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f baselineFile
	if err := json.Unmarshal(raw, &f); err != nil || f.Type != "baseline" {
		t.Fatalf("%s: type %q: %v", path, f.Type, err)
	}
	return f
}

// readSenseEvents returns the alerts and the final statistics of a `heir
// sense` event file.
func readSenseEvents(t *testing.T, path string) ([]event.Alert, map[string]json.RawMessage) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	latest := map[string]event.Alert{}
	var order []string
	var stats map[string]json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var head struct {
			Type  string `json:"type"`
			Final bool   `json:"final"`
		}
		json.Unmarshal(sc.Bytes(), &head)
		switch {
		case head.Type == event.TypeAlert:
			var a event.Alert
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatal(err)
			}
			if _, ok := latest[a.ID]; !ok {
				order = append(order, a.ID)
			}
			latest[a.ID] = a
		case head.Type == event.TypeStats && head.Final:
			json.Unmarshal(sc.Bytes(), &stats)
		}
	}
	var out []event.Alert
	for _, id := range order {
		out = append(out, latest[id])
	}
	return out, stats
}

// Learning survives a restart: a baseline learnt from the lab's normal
// traffic (the attacker filtered out) and saved, then loaded by `heir
// sense` replaying the whole capture an hour later, flags the attacks and
// nothing of the normal part; the file is saved again with what was
// learnt meanwhile. A corrupt file is refused with its name and the way
// out; --baseline-reset learns from scratch and replaces it.
func TestBaselineFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "baseline.json")
	args := append([]string{"analyze", "--filter", "not host " + labAttacker, "--baseline-file", file}, labLearnArgs...)
	if code, _, errOut := heir(t, append(args, labCapture)...); code != ExitOK {
		t.Fatalf("learning run: %d %s", code, errOut)
	}
	learnt := readBaselineFile(t, file)
	if len(learnt.Devices) != 11 || slices.ContainsFunc(learnt.Devices, func(d struct {
		IP string `json:"ip"`
	}) bool {
		return d.IP == labAttacker
	}) {
		t.Fatalf("learnt devices %v: want the lab's 11 without the attacker", learnt.Devices)
	}

	later := filepath.Join(dir, "later.pcap")
	shiftPcap(t, labCapture, later, time.Hour)
	events := filepath.Join(dir, "events.jsonl")
	args = append([]string{"sense", "--read", "--out", events, "--baseline-file", file}, labLearnArgs...)
	if code, _, errOut := heir(t, append(args, later)...); code != ExitOK {
		t.Fatalf("sense: %d %s", code, errOut)
	}
	alerts, stats := readSenseEvents(t, events)
	checkBaselineAlerts(t, byRulePrefix(alerts, "baseline-"), time.Hour)
	var bst struct {
		Devices      int    `json:"devices"`
		AlertsOpened uint64 `json:"alerts_opened"`
	}
	if err := json.Unmarshal(stats["baseline"], &bst); err != nil || bst.Devices != 12 || bst.AlertsOpened == 0 {
		t.Errorf("final stats' baseline: %s (%v)", stats["baseline"], err)
	}
	if again := readBaselineFile(t, file); len(again.Devices) != 12 {
		t.Errorf("saved again with %d devices, want 12 (the attacker learnt since)", len(again.Devices))
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"v":1,"type":"baseline","window":"1s","devices":[{"ip":"10.77.0.5","peers":[{"k":"zz","v":"x"}]}]}`), 0o600)
	code, _, errOut := heir(t, append([]string{"analyze", "--baseline-file", bad}, append(labLearnArgs, labCapture)...)...)
	if code != ExitUsage || !strings.Contains(errOut, bad) || !strings.Contains(errOut, `key "zz" is not a hexadecimal number`) ||
		!strings.Contains(errOut, "--baseline-reset") {
		t.Errorf("corrupt file: exit %d: %s", code, errOut)
	}
	code, _, errOut = heir(t, append([]string{"analyze", "--baseline-reset", "--baseline-file", bad}, append(labLearnArgs, labCapture)...)...)
	if code != ExitOK {
		t.Fatalf("--baseline-reset: %d %s", code, errOut)
	}
	if f := readBaselineFile(t, bad); len(f.Devices) != 12 {
		t.Errorf("reset file holds %d devices", len(f.Devices))
	}
	if code, _, errOut := heir(t, "analyze", "--no-detect", "--baseline-learn", "1m", labCapture); code != ExitUsage || !strings.Contains(errOut, "need detection") {
		t.Errorf("--no-detect with a baseline: %d %s", code, errOut)
	}
	if code, _, errOut := heir(t, "analyze", "--baseline-learn", "1m", "--baseline-window", "0s", labCapture); code != ExitUsage || !strings.Contains(errOut, "--baseline-window") {
		t.Errorf("zero window: %d %s", code, errOut)
	}
}

// reconModel trains a tree on the dataset's columns that calls a TCP flow
// of at most four packets, at least a third of them SYN, "Recon" (a port
// scan's probe) and everything else "Benign".
func reconModel(t *testing.T, path string) {
	t.Helper()
	cols := []string{"syn_flag_number", "Number", "Protocol Type", "rst_flag_number"}
	task := &ml.Task{Features: cols, Classes: []string{"Benign", "Recon"}, D: len(cols)}
	for _, proto := range []float32{1, 6, 17} {
		for n := 1; n <= 60; n++ {
			for syn := 0; syn <= 10; syn++ {
				s := float32(syn) / 10
				y := 0
				if proto == 6 && s >= 0.3 && n <= 4 {
					y = 1
				}
				task.X = append(task.X, s, float32(n), proto, float32((syn*7)%3)/3)
				task.Y = append(task.Y, y)
				task.N++
			}
		}
	}
	m, err := ml.Train(context.Background(), task, ml.DefaultConfig(ml.Tree))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SaveFile(path); err != nil {
		t.Fatal(err)
	}
}

func checkReconAlerts(t *testing.T, alerts []event.Alert, model string) {
	t.Helper()
	scan := false
	for i := range alerts {
		a := &alerts[i]
		if !hasENISA(a) || a.Model != model || a.Samples["class"] == "" || a.Remediation == "" {
			t.Errorf("ML alert %s: model %q class %q tags %v", a.ID, a.Model, a.Samples["class"], a.Tags)
		}
		if a.Samples["class"] == "Recon" && a.Source.IP.String() == labAttacker && !a.End.Before(labSynScan[0]) && !a.Start.After(labSynScan[1]) {
			scan = true
			if !slices.ContainsFunc(a.Tags, func(tg event.Tag) bool { return tg.Taxonomy == event.TaxENISA && tg.ID == "15" }) ||
				a.Category != "reconnaissance" || a.Count < 100 {
				t.Errorf("scan alert: category %q count %d tags %v", a.Category, a.Count, a.Tags)
			}
		}
	}
	if !scan {
		t.Errorf("no Recon alert from %s during the SYN scan among %d ML alerts", labAttacker, len(alerts))
	}
}

// heir analyze and heir sense with --model: the flows of the lab's SYN
// scan become one Recon alert (not one per flow), tagged; the flow
// features the model needs are turned on by itself; a missing, corrupt
// or foreign model file is refused with a precise error.
func TestModelFlag(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "recon.json")
	reconModel(t, model)
	alerts := byRulePrefix(analyzeAlerts(t, "--model", model, labCapture), mlsense.Rule)
	checkReconAlerts(t, alerts, "tree recon.json")
	for _, a := range alerts {
		if a.Source.IP.String() != labAttacker {
			t.Errorf("ML alert on normal traffic: %s from %s: %s", a.Samples["class"], a.Source.IP, a.Description)
		}
	}

	events := filepath.Join(dir, "events.jsonl")
	if code, _, errOut := heir(t, "sense", "--read", "--no-baseline", "--model", model, "--out", events, labCapture); code != ExitOK {
		t.Fatalf("sense: %d %s", code, errOut)
	}
	got, stats := readSenseEvents(t, events)
	checkReconAlerts(t, byRulePrefix(got, mlsense.Rule), "tree recon.json")
	var mst mlsense.Stats
	if err := json.Unmarshal(stats["ml"], &mst); err != nil || mst.Scored == 0 || mst.NoFeatures != 0 || mst.Scored != mst.Flows {
		t.Errorf("final stats' ml: %s (%v)", stats["ml"], err)
	}
	if _, ok := stats["baseline"]; ok {
		t.Error("--no-baseline: baseline stats present")
	}

	corrupt := filepath.Join(dir, "corrupt.json")
	os.WriteFile(corrupt, []byte(`{"format":"heir-ml-model","version":1,"kind":"tree","trees":[`), 0o644)
	other := filepath.Join(dir, "other.json")
	task := &ml.Task{Features: []string{"size"}, Classes: []string{"benign", "flood"}, D: 1, N: 4,
		X: []float32{60, 61, 1400, 1500}, Y: []int{0, 0, 1, 1}}
	m, err := ml.Train(context.Background(), task, ml.DefaultConfig(ml.Tree))
	if err != nil {
		t.Fatal(err)
	}
	m.SaveFile(other)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"analyze", "--model", filepath.Join(dir, "missing.json"), labCapture}, []string{"--model: load model: open", "missing.json: no such file"}},
		{[]string{"sense", "--read", "--model", corrupt, labCapture}, []string{"--model: " + corrupt + ": load model:"}},
		{[]string{"analyze", "--model", other, labCapture}, []string{"--model " + other, `"size" has no equivalent`}},
		{[]string{"analyze", "--model", model, "--model-threshold", "2", labCapture}, []string{"threshold must be a probability"}},
		{[]string{"analyze", "--no-detect", "--model", model, labCapture}, []string{"--model needs detection"}},
	} {
		code, _, errOut := heir(t, c.args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", c.args, code, ExitUsage, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, errOut, w)
			}
		}
	}
}

// A model trained on the CICIoMT2024 sample (6 categories) runs on the lab
// capture: it sees the SYN scan as reconnaissance. It also raises false
// alerts on the lab's normal traffic (docs/ml.md, "Running a model
// live", measures them); this test keeps the plumbing true, not the
// model's quality.
func TestModelCICIoMT2024OnLab(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the CICIoMT2024 sample (a few seconds)")
	}
	model := filepath.Join(t.TempDir(), "ciciomt-category.json")
	trainCategoryModel(t, testenvFile(t, "flows/ciciomt2024/merged_sample.csv.gz"), model)
	alerts := byRulePrefix(analyzeAlerts(t, "--model", model, labCapture), mlsense.Rule)
	checkReconAlerts(t, alerts, "gbdt ciciomt-category.json")
	fromAttacker := 0
	for _, a := range alerts {
		if a.Source.IP.String() == labAttacker {
			fromAttacker++
		}
		t.Logf("%-6s %-8s %-12s → %-16s %s..%s %4d flows  p≤%s", a.Severity, a.Samples["class"], a.Source.IP, a.Targets[0].IP,
			a.Start.Format("15:04:05"), a.End.Format("15:04:05"), a.Count, a.Samples["probability_max"])
	}
	t.Logf("%d ML alerts, %d of them from the attacker, %d on normal traffic", len(alerts), fromAttacker, len(alerts)-fromAttacker)
}

// trainCategoryModel trains a small gbdt (30 rounds, 6 categories) on the
// CICIoMT2024 sample at data and saves it to path; it returns what it
// trained, for the test's log.
func trainCategoryModel(t *testing.T, data, path string) string {
	t.Helper()
	d, err := dataset.ReadFile(data, ml.CICIoMT2024Spec())
	if err != nil {
		t.Fatal(err)
	}
	task, err := ml.CICIoMT2024Task(d, ml.Category)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ml.DefaultConfig(ml.GBDT)
	cfg.Rounds = 30
	m, err := ml.Train(context.Background(), task, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("gbdt, %d rounds, 6 categories, trained on %d rows of the CICIoMT2024 sample", cfg.Rounds, task.N)
}
