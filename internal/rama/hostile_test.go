package rama

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Hostile YAML (nested aliases, deep nesting) is refused quickly.
func TestHostileYAML(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n")
	for i := 1; i < 20; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	laughs := b.String()
	inKnown := strings.ReplaceAll(laughs, "a19: &a19", "eol:\n  enisa: &a19")
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	blockDeep := "rules:\n" + strings.Repeat("- ", 20000) + "x\n"
	var indented strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&indented, "%sk%d:\n", strings.Repeat(" ", i), i)
	}
	for name, in := range map[string]string{"laughs": laughs, "laughs in a known key": inKnown, "deep": "eol:\n  enisa: " + deep,
		"block sequences": blockDeep, "tag on a list": "rules:\n  !0000000000000000\neol:\n  enisa: !x 1\n", "indentation": indented.String(), "flow maps": "bands: " + strings.Repeat("{a: ", 5000)} {
		start := time.Now()
		_, err := ParseConfig(name, []byte(in))
		if err == nil {
			t.Errorf("%s accepted", name)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s took %v", name, d)
		}
		_, err = ParseSite(name, []byte(in))
		if err == nil {
			t.Errorf("site %s accepted", name)
		}
	}
}

// The YAML library once crashed on a tag where a list was expected
// (found by fuzzing internal/vuln/eol); decodeYAML turns such a crash into
// an error, behind checkYAML refusing tags at all.
func TestDecodeYAMLRecovers(t *testing.T) {
	err := decodeYAML([]byte("rules:\n  !0000000000000000\n"), &Site{})
	if err == nil || !strings.Contains(err.Error(), "YAML decoder failed") {
		t.Errorf("%v", err)
	}
}
