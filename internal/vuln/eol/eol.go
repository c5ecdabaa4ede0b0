// Package eol reads endoflife.date product files (products/<slug>.md): the
// YAML front matter between "---" lines, with title, category, identifiers
// and releases (releaseCycle, releaseLabel, releaseDate, eol, eoas, eoes,
// lts, latest). eol, eoas, eoes and lts are a date or a boolean.
package eol

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/heir-emd/heir/internal/vuln"
)

// maxReleases bounds one product (Linux has about 80 cycles).
const maxReleases = 5000

type frontMatter struct {
	Title       string           `yaml:"title"`
	Category    string           `yaml:"category"`
	Identifiers []map[string]any `yaml:"identifiers"`
	Releases    []map[string]any `yaml:"releases"`
}

// Result is one parsed product file.
type Result struct {
	Product  vuln.EOLProduct
	Problems []vuln.Problem
}

// Parse reads one product file; the slug is its file name without .md.
// A file without front matter or without releases is rejected whole; a
// release without a cycle or with an unreadable date is reported (with its
// line) and skipped.
func Parse(file string, data []byte) (*Result, error) {
	fm, startLine, err := frontMatterOf(data)
	if err != nil {
		return nil, vuln.Fatal(vuln.Problem{File: file, Line: 1, Msg: err.Error()})
	}
	var doc frontMatter
	if err := decodeYAML(fm, &doc); err != nil {
		p := vuln.Problem{File: file, Msg: "YAML: " + oneLine(err)}
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
			p.Line = ye.GetToken().Position.Line + startLine - 1
			p.Column = ye.GetToken().Position.Column
			p.Msg = "YAML: " + ye.GetMessage()
		}
		return nil, vuln.Fatal(p)
	}
	if len(doc.Releases) == 0 {
		return nil, vuln.Fatal(vuln.Problem{File: file, Line: startLine, Msg: "front matter without releases"})
	}
	if len(doc.Releases) > maxReleases {
		return nil, vuln.Fatal(vuln.Problem{File: file, Line: startLine, Msg: fmt.Sprintf("%d releases, more than %d", len(doc.Releases), maxReleases)})
	}
	slug := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	res := &Result{Product: vuln.EOLProduct{Slug: slug, Title: doc.Title, Category: doc.Category}}
	for _, id := range doc.Identifiers {
		for k, v := range id {
			if s, ok := v.(string); ok && (k == "cpe" || k == "purl" || k == "repology") {
				res.Product.Identifiers = append(res.Product.Identifiers, s)
			}
		}
	}
	lines := releaseLines(fm, startLine)
	for i, r := range doc.Releases {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		cycle := scalar(r["releaseCycle"])
		if cycle == "" {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Line: line, Path: fmt.Sprintf("releases[%d]", i), Msg: "release without releaseCycle; skipped"})
			continue
		}
		rel := vuln.EOLRelease{Cycle: cycle, Label: scalar(r["releaseLabel"]), Codename: scalar(r["codename"]), Latest: scalar(r["latest"])}
		bad := false
		for _, f := range []struct {
			key  string
			date *time.Time
			flag *bool
		}{{"releaseDate", &rel.ReleaseDate, nil}, {"eol", &rel.EOL, &rel.EOLFlag}, {"eoas", &rel.EOAS, nil}, {"eoes", &rel.EOES, nil}, {"lts", nil, &rel.LTS}} {
			v, ok := r[f.key]
			if !ok || v == nil {
				continue
			}
			d, b, isDate, err := dateOrBool(v)
			if err != nil {
				res.Problems = append(res.Problems, vuln.Problem{File: file, Line: line, Path: fmt.Sprintf("releases[%d].%s", i, f.key), Msg: err.Error()})
				if f.key == "eol" {
					bad = true
				}
				continue
			}
			switch {
			case isDate && f.date != nil:
				*f.date = d
			case isDate && f.flag != nil: // lts: <date> means LTS until then
				*f.flag = true
			case !isDate && f.flag != nil:
				*f.flag = b
			}
		}
		if bad {
			continue
		}
		res.Product.Releases = append(res.Product.Releases, rel)
	}
	if len(res.Product.Releases) == 0 {
		return nil, vuln.Fatal(vuln.Problem{File: file, Line: startLine, Msg: "no readable release"})
	}
	return res, nil
}

// decodeYAML runs the YAML decoder, turning a panic inside it into an
// error: goccy/go-yaml v1.19.2 dereferences nil on some tagged empty
// sequences ("releases:\n  !0000"), found by FuzzParse; a hostile file
// must cost its import, not the process.
func decodeYAML(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("YAML decoder failed on this input: %v", r)
		}
	}()
	return yaml.Unmarshal(data, v)
}

// frontMatterOf returns the YAML between the first two "---" lines and
// the line number of its first line.
func frontMatterOf(data []byte) ([]byte, int, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !bytes.HasPrefix(data, []byte("---\n")) && !bytes.HasPrefix(data, []byte("---\r\n")) {
		return nil, 0, errors.New("no YAML front matter (the file must start with a --- line)")
	}
	start := bytes.IndexByte(data, '\n') + 1
	end := bytes.Index(data[start:], []byte("\n---"))
	if end < 0 {
		return nil, 0, errors.New("front matter not closed by a --- line")
	}
	return data[start : start+end+1], 2, nil
}

// releaseLines finds the line of each "- releaseCycle:" item, for
// problems; it relies on the files' layout and is only a pointer.
func releaseLines(fm []byte, startLine int) []int {
	var out []int
	for i, l := range bytes.Split(fm, []byte("\n")) {
		t := bytes.TrimSpace(l)
		if bytes.HasPrefix(t, []byte("- releaseCycle:")) {
			out = append(out, startLine+i)
		}
	}
	return out
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case time.Time:
		return x.Format("2006-01-02")
	default:
		return strings.TrimSpace(fmt.Sprint(x))
	}
}

func dateOrBool(v any) (time.Time, bool, bool, error) {
	switch x := v.(type) {
	case bool:
		return time.Time{}, x, false, nil
	case time.Time:
		return x.UTC(), false, true, nil
	case string:
		t, err := time.Parse("2006-01-02", strings.TrimSpace(x))
		if err != nil {
			return time.Time{}, false, false, fmt.Errorf("%q is neither a date (YYYY-MM-DD) nor true/false", clip(x))
		}
		return t, false, true, nil
	}
	return time.Time{}, false, false, fmt.Errorf("%v is neither a date nor true/false", clip(fmt.Sprint(v)))
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
