package detect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseRules: any input is either a rule set whose rules are complete
// and tagged, or refused with errors that name the file, a line and a
// column; never a panic or a hang.
func FuzzParseRules(f *testing.F) {
	f.Add([]byte(DefaultRulesYAML()))
	f.Add([]byte(okRule))
	seeds, _ := filepath.Glob(filepath.Join("testdata", "rules", "*.yaml"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("version: 1\nrules:\n  - {id: a, title: t, severity: low, mapping: smbv1, type: finding, on: weakness, remediation: r, where: {any: [{proto: smb}, {weakness.kind: {in: [smbv1]}}]}}\n"))
	f.Add([]byte("version: 1\nrules:\n  - id: x\n    title: '{source}'\n    detector: flood\n    params: {packets: udp, rate: 5}\n    severity: low\n    category: c\n    mapping: network-flood\n    remediation: r\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		rs, err := ParseRules("fuzz.yaml", data)
		if err != nil {
			var re *RuleError
			var res RuleErrors
			switch {
			case errors.As(err, &res):
				if len(res) == 0 || len(res) > maxErrors {
					t.Fatalf("%d errors", len(res))
				}
				for _, e := range res {
					checkPos(t, e)
				}
			case errors.As(err, &re):
				checkPos(t, re)
			default:
				t.Fatalf("error without position: %T %v", err, err)
			}
			return
		}
		for _, r := range rs.rules {
			if r.id == "" || r.title == "" || len(r.tags) == 0 || r.severity == "" {
				t.Fatalf("incomplete rule %+v", r)
			}
			if r.detector == "" && r.typ == TypeAlert && (r.window <= 0 || r.count < 1 || len(r.groupBy) == 0 || r.source.pick == nil) {
				t.Fatalf("alert rule %s without window, count, group or source", r.id)
			}
		}
		// A parsed rule set runs: an engine built on it takes events.
		e, err := New(Config{Rules: rs}, &discard{})
		if err != nil {
			t.Fatal(err)
		}
		o := obs(t0, "10.0.0.1", 1, "10.0.0.2", 2, "http", "request", map[string]any{"status": 401})
		e.Observe(o)
		e.Flush()
	})
}

func checkPos(t *testing.T, e *RuleError) {
	t.Helper()
	if e.File != "fuzz.yaml" || e.Line < 1 || e.Column < 1 || e.Msg == "" || !strings.HasPrefix(e.Error(), "fuzz.yaml:") {
		t.Fatalf("bad error %+v", e)
	}
}
