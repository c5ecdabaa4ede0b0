package detect

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
)

func readDoc(t *testing.T, name string) string {
	t.Helper()
	root, err := testenv.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The complete rule files in docs/rules.md compile.
func TestDocsRuleExamples(t *testing.T) {
	doc := readDoc(t, "rules.md")
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(doc, -1)
	n := 0
	for _, b := range blocks {
		if !strings.HasPrefix(b[1], "version: 1") {
			continue
		}
		n++
		if _, err := ParseRules("docs/rules.md example", []byte(b[1])); err != nil {
			t.Errorf("example %d: %v\n%s", n, err, b[1])
		}
	}
	if n < 4 {
		t.Errorf("only %d complete examples", n)
	}
}

// docs/detections.md describes every shipped rule and every built-in
// detector's parameters.
func TestDocsDetections(t *testing.T) {
	doc := readDoc(t, "detections.md")
	for _, r := range DefaultRules().Rules() {
		if !strings.Contains(doc, "`"+r.ID+"`") {
			t.Errorf("rule %s not in docs/detections.md", r.ID)
		}
	}
	for d, params := range detectorSpecs() {
		if !strings.Contains(doc, "`"+d+"`") {
			t.Errorf("detector %s not in docs/detections.md", d)
		}
		for p := range params {
			if !strings.Contains(doc, "`"+p+"`") {
				t.Errorf("param %s of %s not in docs/detections.md", p, d)
			}
		}
	}
}
