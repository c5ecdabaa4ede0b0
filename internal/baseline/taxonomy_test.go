package baseline

import (
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/taxonomy"
)

// Every rule's alerts carry at least one ENISA threat, whatever their
// cause: a deviation without a closer cause takes its kind's mapping.
func TestEveryRuleTagged(t *testing.T) {
	cat := taxonomy.New()
	maps := RuleMappings()
	for _, id := range Rules() {
		class, ok := maps[id]
		if !ok {
			t.Errorf("%s: no mapping class", id)
			continue
		}
		m, ok := cat.Mapping(class)
		if !ok {
			t.Errorf("%s: mapping %q not in the taxonomy", id, class)
			continue
		}
		enisa := 0
		for _, tag := range m.Tags {
			if tag.Taxonomy == event.TaxENISA {
				enisa++
			}
		}
		if enisa == 0 {
			t.Errorf("%s (%s): no ENISA threat", id, class)
		}
	}
	sink := &recorder{}
	b, err := New(Config{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	for k := kind(0); k < numKinds; k++ {
		in := &incident{k: k}
		tags := b.tags(in)
		if len(tags) == 0 || tags[0].Taxonomy != event.TaxENISA || tags[0].Reason == "" {
			t.Errorf("%s: tags %v", ruleIDs[k], tags)
		}
	}
}
