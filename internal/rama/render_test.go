package rama_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/rama"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update and review the diff):\n%s", name, got)
	}
}

func sampleEngine(t *testing.T) *rama.Engine {
	t.Helper()
	s, err := rama.NewScorer(rama.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)
	epss, pct := 0.0123, 0.85
	devs := []*rama.Device{
		{ID: "pump-1", Name: "icu3-pump", Role: "infusion-pump", LifeSustaining: true,
			Vulnerabilities: []rama.Vulnerability{{ID: "CVE-2020-12016", CVSS: 8.1, EPSS: &epss, EPSSPercentile: &pct, Component: "ExactaMix"}},
			Findings:        []rama.Finding{{Kind: "cleartext-phi", Severity: "high", Detail: "mqtt"}},
			Exposure:        rama.Exposure{FlatNetwork: true, Peers: 3},
			Controls:        []rama.Control{{Kind: "segmentation"}, {Kind: "nac", Strength: 0.5}}},
		{ID: "ws-1", Role: "workstation",
			Vulnerabilities: []rama.Vulnerability{{ID: "CVE-2019-0708", CVSS: 9.8, KEV: true, Ransomware: true}},
			EOL:             []rama.EOLComponent{{Name: "Windows 7 SP1", EOL: time.Date(2020, 1, 14, 0, 0, 0, 0, time.UTC), AsOf: at}},
			Alerts:          []rama.Alert{{Time: at.Add(-3 * 24 * time.Hour), Severity: "medium", Category: "reconnaissance", Title: "port scan"}}},
		{ID: "pacs-1", Role: "pacs", Findings: []rama.Finding{{Kind: "weak-certificate", Severity: "medium", Detail: "tls port 443"}}},
	}
	e := rama.NewEngine(s)
	if err := e.Load(context.Background(), devs, at); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRenderings(t *testing.T) {
	e := sampleEngine(t)
	rep := rama.NewReport(e, 0)
	var b bytes.Buffer
	if err := rama.WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n")
	if err := rama.WriteHospital(&b, &rep.Hospital); err != nil {
		t.Fatal(err)
	}
	golden(t, "score.txt", b.Bytes())

	b.Reset()
	if err := rama.WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	golden(t, "score.json", b.Bytes())
	var back rama.Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.V != 1 || back.Type != "rama-report" || len(back.Devices) != 3 {
		t.Errorf("report JSON: %v %+v", err, back)
	}

	for _, id := range []string{"pump-1", "ws-1"} {
		bd, ok := e.Explain(id, time.Time{})
		if !ok {
			t.Fatalf("no %s", id)
		}
		b.Reset()
		if err := rama.WriteExplanation(&b, bd); err != nil {
			t.Fatal(err)
		}
		golden(t, "explain-"+id+".txt", b.Bytes())
		b.Reset()
		if err := rama.WriteJSON(&b, bd); err != nil {
			t.Fatal(err)
		}
		golden(t, "explain-"+id+".json", b.Bytes())
	}
	if _, ok := e.Explain("nope", time.Time{}); ok {
		t.Error("explained an unknown device")
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n--; f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestRenderingsReportWriteErrors(t *testing.T) {
	e := sampleEngine(t)
	rep := rama.NewReport(e, 0)
	bd, _ := e.Explain("pump-1", time.Time{})
	for name, f := range map[string]func(w *failWriter) error{
		"table":    func(w *failWriter) error { return rama.WriteTable(w, rep) },
		"hospital": func(w *failWriter) error { return rama.WriteHospital(w, &rep.Hospital) },
		"explain":  func(w *failWriter) error { return rama.WriteExplanation(w, bd) },
		"json":     func(w *failWriter) error { return rama.WriteJSON(w, rep) },
	} {
		if err := f(&failWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
