package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/report"
	"github.com/heir-emd/heir/internal/testenv"
)

func heir(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

const labCapture = "../../testdata/lab/medlab-dev.pcap"

func TestHelpAndUsage(t *testing.T) {
	code, out, _ := heir(t, "help")
	if code != ExitOK || !strings.Contains(out, "analyze") || !strings.Contains(out, "Exit codes") {
		t.Fatalf("help: %d %q", code, out)
	}
	for _, cmd := range []string{"analyze", "sense", "version"} {
		code, _, errOut := heir(t, cmd, "--help")
		if code != ExitOK || !strings.Contains(errOut, "Usage: heir "+cmd) {
			t.Errorf("%s --help: %d %q", cmd, code, errOut)
		}
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"analyze"}, "give at least one capture"},
		{[]string{"analyze", "/nonexistent.pcap"}, "no such file"},
		{[]string{"analyze", "--fail-on", "cleartext-everything", labCapture}, "unknown weakness"},
		{[]string{"analyze", "--home-net", "10.0.0.0/33", labCapture}, "--home-net"},
		{[]string{"sense"}, "say where to read packets"},
		{[]string{"sense", "--iface", "eth0", "--read", "x.pcap"}, "not both"},
		{[]string{"analyze", "--no-such-flag", labCapture}, "flag provided but not defined"},
	}
	for _, c := range cases {
		code, _, errOut := heir(t, c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, errOut, c.want)
		}
	}
	junk := filepath.Join(t.TempDir(), "junk.pcap")
	os.WriteFile(junk, []byte("this is not a capture"), 0o644)
	if code, _, errOut := heir(t, "analyze", junk); code != ExitUsage || !strings.Contains(errOut, "not a pcap") {
		t.Errorf("junk: %d %q", code, errOut)
	}
}

func TestAnalyzeLabJSON(t *testing.T) {
	code, out, errOut := heir(t, "analyze", "--json", labCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	// capinfos says the lab capture has 7,911 packets.
	if r.V != 1 || r.Type != "report" || r.Packets.Frames != 7911 || len(r.Inputs) != 1 {
		t.Fatalf("report header: v%d %q %d frames %d inputs", r.V, r.Type, r.Packets.Frames, len(r.Inputs))
	}
	var flows uint64
	for _, p := range r.Protocols {
		flows += p.Flows
	}
	if flows == 0 {
		t.Fatal("no flows in the report")
	}
}

func TestAnalyzeText(t *testing.T) {
	code, out, errOut := heir(t, "analyze", labCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, section := range []string{"DEVICES", "PROTOCOLS", "FINDINGS", "ALERTS", "7,911 packets"} {
		if !strings.Contains(out, section) {
			t.Errorf("text report lacks %q:\n%s", section, out)
		}
	}
}

func TestSenseReplayEvents(t *testing.T) {
	outFile := filepath.Join(t.TempDir(), "events.jsonl")
	code, _, errOut := heir(t, "sense", "--read", "--out", outFile, labCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	f, err := os.Open(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	types := map[string]int{}
	var final bool
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			V     int    `json:"v"`
			Type  string `json:"type"`
			Final bool   `json:"final"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line is not JSON: %v: %s", err, sc.Text())
		}
		if rec.V != event.Version {
			t.Fatalf("line without v=1: %s", sc.Text())
		}
		types[rec.Type]++
		final = final || (rec.Type == event.TypeStats && rec.Final)
	}
	// The lab capture's attacks and weaknesses give alerts and findings.
	if types[event.TypeFlow] == 0 || types[event.TypeStats] == 0 || !final || types[event.TypeAlert] == 0 || types[event.TypeFinding] == 0 {
		t.Fatalf("event types %v, final stats %v", types, final)
	}
	for ty := range types {
		switch ty {
		case event.TypeFlow, event.TypeObservation, event.TypeAsset, event.TypeStats, event.TypeFinding, event.TypeAlert:
		default:
			t.Errorf("undocumented event type %q", ty)
		}
	}
}

var updateReadme = flag.Bool("update-readme", false, "rewrite the example output in README.md")

// TestReadmeExample keeps the README's example output true: it is what
// `heir analyze` prints on the sample capture today.
func TestReadmeExample(t *testing.T) {
	const path = "../../README.md"
	const start = "$ go run ./cmd/heir analyze testdata/lab/medlab-dev.pcap\n"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i := strings.Index(readme, start)
	if i < 0 {
		t.Fatalf("README.md lacks the example %q", start)
	}
	i += len(start)
	j := strings.Index(readme[i:], "```")
	if j < 0 {
		t.Fatal("README.md: example block not closed")
	}
	code, out, errOut := heir(t, "analyze", labCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if readme[i:i+j] == out {
		return
	}
	if *updateReadme {
		os.WriteFile(path, []byte(readme[:i]+out+readme[i+j:]), 0o644)
		return
	}
	t.Errorf("README.md's example output is stale; run go test ./internal/cli -run ReadmeExample -update-readme and review the diff.\ngot:\n%s", out)
}

func TestSensorCredentials(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "ward4.creds")
	if code, out, errOut := heir(t, "sensor", "add", "--data", dir, "--out", creds, "--url", "nats://127.0.0.1:4222", "ward4"); code != ExitOK || !strings.Contains(out, "ward4 added") {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	st, err := os.Stat(creds)
	if err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("credentials file %v mode %v: must be private", err, st.Mode())
	}
	raw, _ := os.ReadFile(creds)
	if !strings.Contains(string(raw), `"sensor": "ward4"`) || !strings.Contains(string(raw), "127.0.0.1:4222") {
		t.Fatalf("credentials: %s", raw)
	}
	// The node keeps only the public key.
	reg, _ := os.ReadFile(filepath.Join(dir, "sensors.json"))
	var c struct{ Seed string }
	json.Unmarshal(raw, &c)
	if c.Seed == "" || strings.Contains(string(reg), c.Seed) {
		t.Fatal("the registry holds the sensor's secret")
	}
	if code, _, errOut := heir(t, "sensor", "add", "--data", dir, "--out", creds, "ward5"); code != ExitUsage || !strings.Contains(errOut, "never overwritten") {
		t.Fatalf("overwrite: %d %s", code, errOut)
	}
	if code, _, _ := heir(t, "sensor", "revoke", "--data", dir, "ward4"); code != ExitOK {
		t.Fatal("revoke failed")
	}
	code, out, _ := heir(t, "sensor", "list", "--data", dir)
	if code != ExitOK || !strings.Contains(out, "ward4") || !strings.Contains(out, "revoked") {
		t.Fatalf("list: %s", out)
	}
}

func TestImportKnowledge(t *testing.T) {
	dir := t.TempDir()
	kev := testenvFile(t, "kev/known_exploited_vulnerabilities.json")
	code, out, errOut := heir(t, "import", "kev", "--data", dir, kev)
	if code != ExitOK || !strings.Contains(out, "imported 1404 kev records") {
		t.Fatalf("kev: %d %s %s", code, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"vulnerabilities": [`), 0o644)
	code, out, errOut = heir(t, "import", "kev", "--data", dir, bad)
	if code != ExitUsage || !strings.Contains(out, "bad.json") || !strings.Contains(errOut, "nothing changed") {
		t.Fatalf("broken file: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := heir(t, "import", "--data", dir); code != ExitUsage || !strings.Contains(errOut, "csaf, kev") {
		t.Fatalf("usage: %d %s", code, errOut)
	}
	if code, _, errOut := heir(t, "feeds", "update", "--nvd-years", "1999", "--data", dir); code != ExitUsage || !strings.Contains(errOut, "range of years") {
		t.Fatalf("feeds usage: %d %s", code, errOut)
	}
}

func testenvFile(t *testing.T, rel string) string {
	t.Helper()
	return testenv.DataFile(t, rel)
}

// A broken rule file is refused with its place; an imported indicator
// list is used.
func TestDetectionFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nrules:\n  - id: x\n    title: t\n    severity: urgent\n"), 0o644)
	code, _, errOut := heir(t, "analyze", "--rules", bad, labCapture)
	if code != ExitUsage || !strings.Contains(errOut, "bad.yaml:5:15: severity must be") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("10.77.0.66 lab attacker\n"), 0o644)
	code, out, errOut := heir(t, "analyze", "--json", "--indicators", list, labCapture)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Alerts []event.Alert `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, a := range rep.Alerts {
		if a.Rule == "known-bad-peer" {
			listed++
		}
	}
	if listed == 0 {
		t.Errorf("no known-bad-peer alert for a listed address; alerts: %d", len(rep.Alerts))
	}
	code, out, _ = heir(t, "analyze", "--json", "--no-detect", labCapture)
	if code != ExitOK || strings.Contains(out, `"alerts"`) {
		t.Errorf("--no-detect: exit %d, alerts present", code)
	}
}

func TestFailOn(t *testing.T) {
	// The lab capture has high-severity weaknesses (cleartext PHI) and
	// high alerts, but no weak cipher.
	if code, _, _ := heir(t, "analyze", "--fail-on", "high", labCapture); code != ExitFindings {
		t.Fatalf("--fail-on high: exit %d", code)
	}
	if code, _, _ := heir(t, "analyze", "--fail-on", "weak-cipher", labCapture); code != ExitOK {
		t.Fatalf("--fail-on weak-cipher: exit %d", code)
	}
	if !alertFails("high", "critical") || alertFails("critical", "high") || alertFails("weak-cipher", "critical") {
		t.Fatal("alertFails")
	}
}

// TestScoreAndExplain scores the lab capture and, through an event file,
// the same devices: the patient monitor with default credentials on
// Telnet, FTP and HTTP must be the riskiest either way.
func TestScoreAndExplain(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := heir(t, "score", "--data", dir, "--json", labCapture)
	if code != ExitOK {
		t.Fatalf("score: %d %s", code, errOut)
	}
	var rep struct {
		Type     string
		Hospital struct{ Score float64 }
		Devices  []struct {
			ID       string
			Residual float64
			Band     string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("score JSON: %v", err)
	}
	if len(rep.Devices) != 12 || rep.Devices[0].ID != "mac-024d4c000032" || rep.Devices[0].Residual < 70 || rep.Hospital.Score <= 0 {
		t.Fatalf("riskiest: %+v", rep.Devices)
	}
	for i := 1; i < len(rep.Devices); i++ {
		if rep.Devices[i].Residual > rep.Devices[i-1].Residual {
			t.Fatalf("not riskiest first: %+v", rep.Devices)
		}
	}
	events := filepath.Join(dir, "events.jsonl")
	if code, _, errOut := heir(t, "analyze", "--events", events, labCapture); code != ExitOK {
		t.Fatalf("analyze --events: %s", errOut)
	}
	code, out, errOut = heir(t, "score", "--data", dir, "--top", "1", events)
	if code != ExitOK || !strings.Contains(out, "mac-024d4c000032") || !strings.Contains(out, "Local RAMA") {
		t.Fatalf("score from events: %d %s %s", code, out, errOut)
	}
	code, out, errOut = heir(t, "explain", "--data", dir, "10.77.0.50", events)
	if code != ExitOK || !strings.Contains(out, "default-credentials") || !strings.Contains(out, "patient-monitor") {
		t.Fatalf("explain: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := heir(t, "explain", "--data", dir, "10.9.9.9", events); code != ExitUsage || !strings.Contains(errOut, "no device") {
		t.Fatalf("unknown device: %d %s", code, errOut)
	}
	if code, _, errOut := heir(t, "score", "--data", dir); code != ExitUsage || !strings.Contains(errOut, "no devices") {
		t.Fatalf("no inputs: %d %s", code, errOut)
	}
}

// TestDecideFalsePositive: a device from an imported inventory matches
// an ICSMA advisory (St. Jude EX1100 firmware below 8.2.2 has
// CVE-2017-5149); an analyst marks it false positive; it stops counting,
// and the decision survives a re-import of the advisory.
func TestDecideFalsePositive(t *testing.T) {
	dir := t.TempDir()
	adv := testenvFile(t, "advisories/csaf-icsma/icsma-17-009-01a.json")
	inv := filepath.Join(dir, "inventory.csv")
	os.WriteFile(inv, []byte("name,ip,mac,vendor,model,firmware,role\nmerlin-1,10.1.0.5,02:00:00:00:00:05,St. Jude Medical,EX1100,8.1.0,patient-monitor\n"), 0o644)
	for _, args := range [][]string{{"import", "csaf", "--data", dir, adv}, {"import", "inventory", "--data", dir, inv}} {
		if code, _, errOut := heir(t, args...); code != ExitOK {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	if _, out, _ := heir(t, "explain", "--data", dir, "merlin-1"); !strings.Contains(out, "vulnerability CVE-2017-5149") {
		t.Fatalf("no match before the decision:\n%s", out)
	}
	if code, _, errOut := heir(t, "decide", "--data", dir, "merlin-1", "CVE-2017-5149", "false-positive"); code != ExitUsage || !strings.Contains(errOut, "--comment") {
		t.Fatalf("decision without a comment: %d %s", code, errOut)
	}
	if code, _, errOut := heir(t, "decide", "--data", dir, "--comment", "firmware 8.2.2 checked on site", "merlin-1", "CVE-2017-5149", "false-positive"); code != ExitOK {
		t.Fatalf("decide: %s", errOut)
	}
	heir(t, "import", "csaf", "--data", dir, adv)
	_, out, _ := heir(t, "explain", "--data", dir, "merlin-1")
	if !strings.Contains(out, "CVE-2017-5149: false-positive") || !strings.Contains(out, "RAMA 0.0") {
		t.Fatalf("decision not respected after re-import:\n%s", out)
	}
}

// TestMLTrainEval trains a tree on separable data through the command
// line, saves it, and evaluates it: every row is classified right, and
// data with other columns is refused with the column named.
func TestMLTrainEval(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("size,rate,label\n")
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&b, "%d,%d,benign\n", 60+i%7, 1+i%3)
		} else {
			fmt.Fprintf(&b, "%d,%d,flood\n", 1400+i%9, 900+i%11)
		}
	}
	data := filepath.Join(dir, "flows.csv")
	os.WriteFile(data, []byte(b.String()), 0o644)
	model := filepath.Join(dir, "model.json")
	if code, out, errOut := heir(t, "ml", "train", "--dataset", "generic", "--kind", "tree", "--out", model, data); code != ExitOK || !strings.Contains(out, "2 classes") {
		t.Fatalf("train: %d %s %s", code, out, errOut)
	}
	code, out, errOut := heir(t, "ml", "eval", "--dataset", "generic", "--model", model, data)
	if code != ExitOK || !strings.Contains(out, "macro-F1 1.0000") {
		t.Fatalf("eval: %d %s %s", code, out, errOut)
	}
	other := filepath.Join(dir, "other.csv")
	os.WriteFile(other, []byte("bytes,label\n1,benign\n2,flood\n"), 0o644)
	if code, _, errOut := heir(t, "ml", "eval", "--dataset", "generic", "--model", model, other); code != ExitUsage || !strings.Contains(errOut, "size") {
		t.Fatalf("mismatched columns: %d %s", code, errOut)
	}
	if code, out, _ := heir(t, "ml", "eval", "--dataset", "generic", "--kind", "forest", "--trees", "5", "--cv", "3", data); code != ExitOK || !strings.Contains(out, "3 folds") {
		t.Fatalf("cv: %s", out)
	}
}
