package eol

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
	"github.com/heir-emd/heir/internal/vuln"
)

const small = `---
title: Microsoft Windows
category: os
identifiers:
  - cpe: cpe:2.3:o:microsoft:windows
releases:
  - releaseCycle: "7-sp1"
    releaseLabel: "7 SP1"
    releaseDate: 2011-02-22
    eoas: 2015-01-13
    eol: 2020-01-14
    latest: 6.1.7601
  - releaseCycle: "11-24h2-w"
    releaseDate: 2024-10-01
    eol: false
    lts: 2029-10-09
  - releaseCycle: "bad"
    eol: someday
---
text`

func TestParse(t *testing.T) {
	r, err := Parse("windows.md", []byte(small))
	if err != nil {
		t.Fatal(err)
	}
	p := r.Product
	if p.Slug != "windows" || p.Title != "Microsoft Windows" || len(p.Releases) != 2 || len(p.Identifiers) != 1 {
		t.Fatalf("product %+v", p)
	}
	w7 := p.Releases[0]
	if w7.EOL.Format("2006-01-02") != "2020-01-14" || w7.Latest != "6.1.7601" || w7.Label != "7 SP1" {
		t.Errorf("7 SP1 = %+v", w7)
	}
	if w11 := p.Releases[1]; !w11.EOL.IsZero() || w11.EOLFlag || !w11.LTS {
		t.Errorf("11 = %+v", w11)
	}
	if len(r.Problems) != 1 || r.Problems[0].Line != 17 {
		t.Errorf("problems %v, want one on line 17 (the release item)", r.Problems)
	}
	_, err = Parse("x.md", []byte("---\ntitle: x\nreleases:\n  - releaseCycle: [\n---\n"))
	var fe *vuln.FileError
	if !errors.As(err, &fe) || fe.Problem.Line < 2 {
		t.Errorf("bad YAML: %v", err)
	}
}

func TestRealFiles(t *testing.T) {
	dir := testenv.DataDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "eol", "*.md"))
	if len(files) != 12 {
		t.Fatalf("%d eol files, want 12", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Parse(f, data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(r.Problems) > 0 {
			t.Errorf("%s: %v", f, r.Problems)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(small))
	if dir, ok := testenv.OptionalDataDir(); ok {
		if data, err := os.ReadFile(filepath.Join(dir, "eol", "dotnetfx.md")); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.md", data)
		if err != nil {
			return
		}
		for _, rel := range r.Product.Releases {
			if rel.Cycle == "" {
				t.Fatal("release without cycle kept")
			}
		}
	})
}
