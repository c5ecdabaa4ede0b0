package taxonomy_test

import (
	"testing"

	"github.com/heir-emd/heir/internal/baseline"
	"github.com/heir-emd/heir/internal/ml"
	"github.com/heir-emd/heir/internal/mlsense"
	"github.com/heir-emd/heir/internal/taxonomy"
)

// The detectors outside internal/detect map too: every behaviour
// baseline rule, and every class a CICIoMT2024 model predicts, lands on a
// mapping with at least one ENISA threat (the shipped rules are checked
// by internal/detect's TestShippedRulesTaxonomy).
func TestDetectorsOutsideRulesMap(t *testing.T) {
	c := taxonomy.New()
	check := func(who, class string) {
		t.Helper()
		m, ok := c.Mapping(class)
		if !ok {
			t.Errorf("%s: mapping %q does not exist", who, class)
			return
		}
		for _, tag := range m.Tags {
			if tag.Taxonomy == taxonomy.ENISA {
				return
			}
		}
		t.Errorf("%s (%s): no ENISA threat", who, class)
	}
	maps := baseline.RuleMappings()
	for _, rule := range baseline.Rules() {
		check(rule, maps[rule])
	}
	for _, l := range ml.CICIoMT2024Stems() {
		for _, g := range ml.Granularities {
			if c := l.At(g); c != "Benign" {
				check(mlsense.Rule+" "+c, mlsense.MappingOf(c))
			}
		}
	}
	check(mlsense.Rule+" (another class)", mlsense.MappingOf("something-else"))
}
