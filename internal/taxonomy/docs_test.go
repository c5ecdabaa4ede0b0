package taxonomy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
)

// docTaxonomy is how docs/taxonomy.md names each taxonomy in its tables.
var docTaxonomy = map[string]string{
	ENISA: "ENISA", OWASP: "OWASP 2021", OWASP2025: "OWASP 2025", OWASPIoT: "OWASP IoT", ATTACK: "ATT&CK",
}

// docs/taxonomy.md is what analysts read to know why an alert carries a
// tag: every mapping class of the code must have its row in the summary
// table and its section listing exactly its tags with their reasons, so
// that a class or tag added, dropped or reworded in mapping.go without
// the page fails here.
func TestDocsListEveryMapping(t *testing.T) {
	root, err := testenv.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "docs", "taxonomy.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	sections := docSections(doc)
	c := New()
	known := map[string]bool{}
	for _, m := range c.Mappings() {
		known[m.Class] = true
		if !strings.Contains(doc, "\n| `"+m.Class+"` |") {
			t.Errorf("%s: no row in docs/taxonomy.md's mapping table", m.Class)
		}
		sec, ok := sections[m.Class]
		if !ok {
			t.Errorf("%s: no section \"### `%s`\" in docs/taxonomy.md", m.Class, m.Class)
			continue
		}
		want := map[string]bool{}
		for _, tag := range m.Tags {
			row := "| " + docTaxonomy[tag.Taxonomy] + " | " + tag.ID + " | " + tag.Name + " | " + tag.Reason + " |"
			want[row] = true
			if !strings.Contains(sec, "\n"+row+"\n") {
				t.Errorf("%s: docs/taxonomy.md lacks the row\n\t%s", m.Class, row)
			}
		}
		// A tag row the code no longer has is as wrong as a missing one.
		for _, line := range strings.Split(sec, "\n") {
			if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| taxonomy |") && !want[line] {
				t.Errorf("%s: docs/taxonomy.md has a tag the code lacks\n\t%s", m.Class, line)
			}
		}
		if m.NoOWASP != "" && !strings.Contains(sec, m.NoOWASP) {
			t.Errorf("%s: docs/taxonomy.md does not say why no OWASP category applies (%q)", m.Class, m.NoOWASP)
		}
	}
	for class := range sections {
		if !known[class] {
			t.Errorf("docs/taxonomy.md documents class %s, which the code does not have", class)
		}
	}
}

// docSections returns the text of each "### `class`" section, up to the
// next heading.
func docSections(doc string) map[string]string {
	out := map[string]string{}
	head := regexp.MustCompile("(?m)^#{1,3} .*$")
	locs := head.FindAllStringIndex(doc, -1)
	for i, l := range locs {
		title := doc[l[0]:l[1]]
		class, ok := strings.CutPrefix(title, "### `")
		if !ok || !strings.HasSuffix(class, "`") {
			continue
		}
		end := len(doc)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out[strings.TrimSuffix(class, "`")] = doc[l[1]:end]
	}
	return out
}
