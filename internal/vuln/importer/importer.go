// Package importer is what `heir import` runs: it reads files of one kind
// (csaf, kev, epss, nvd, eol, sbom, vex, inventory) into the knowledge base
// and the imported inventory, file by file, so that a bad file costs only
// itself and reports where it is broken, and keeps both on disk (Store)
// between commands until the store of issue 5 takes over.
package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/heir-emd/heir/internal/inventory"
	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/csaf"
	"github.com/heir-emd/heir/internal/vuln/eol"
	"github.com/heir-emd/heir/internal/vuln/epss"
	"github.com/heir-emd/heir/internal/vuln/kev"
	"github.com/heir-emd/heir/internal/vuln/nvd"
)

// Kinds of input.
var Kinds = []string{"csaf", "kev", "epss", "nvd", "eol", "sbom", "vex", "inventory"}

// Options tunes one import.
type Options struct {
	// Vendor and Model attach an SBOM or VEX to a device model when the
	// document does not name it (--vendor, --model).
	Vendor, Model string
	// Schema validates CSAF documents against the CSAF 2.0 schema.
	Schema bool
}

// Importer imports into a knowledge base and a device list.
type Importer struct {
	KB      *vuln.KB
	Norm    *vuln.Normaliser
	Devices *inventory.Devices
	Log     *slog.Logger
}

// Report says what one import did.
type Report struct {
	Kind     string         `json:"kind"`
	Files    int            `json:"files"`
	Rejected int            `json:"rejected"` // files imported not at all
	Records  int            `json:"records"`  // advisories, catalogue entries, rows … imported
	Problems []vuln.Problem `json:"problems,omitempty"`
}

// Import reads every path (a file, or a folder searched for files of the
// kind) and applies each good file to the knowledge base. It returns an
// error only for usage errors (unknown kind, missing path); broken files
// are in the report.
func (im *Importer) Import(ctx context.Context, kind string, paths []string, opt Options) (*Report, error) {
	ext, ok := map[string][]string{
		"csaf": {".json"}, "kev": {".json"}, "epss": {".csv", ".csv.gz"}, "nvd": {".json", ".json.gz"},
		"eol": {".md"}, "sbom": {".json", ".xml", ".cdx.json", ".cdx.xml"}, "vex": {".json", ".xml"}, "inventory": {".csv"},
	}[kind]
	if !ok {
		return nil, fmt.Errorf("unknown import kind %q (one of %s)", kind, strings.Join(Kinds, ", "))
	}
	files, err := expand(paths, ext)
	if err != nil {
		return nil, err
	}
	rep := &Report{Kind: kind}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Files++
		n, probs, err := im.importFile(kind, f, opt)
		rep.Problems = append(rep.Problems, probs...)
		if err != nil {
			rep.Rejected++
			var fe *vuln.FileError
			if errors.As(err, &fe) {
				rep.Problems = append(rep.Problems, fe.Problem)
			} else {
				rep.Problems = append(rep.Problems, vuln.Problem{File: f, Msg: err.Error(), Fatal: true})
			}
			im.logger().Warn("import: file rejected", "kind", kind, "file", f, "err", err)
			continue
		}
		rep.Records += n
	}
	return rep, nil
}

func (im *Importer) logger() *slog.Logger {
	if im.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return im.Log
}

func (im *Importer) importFile(kind, file string, opt Options) (int, []vuln.Problem, error) {
	data, err := readMaybeGzip(file)
	if err != nil {
		return 0, nil, vuln.Fatal(vuln.Problem{File: file, Msg: err.Error()})
	}
	switch kind {
	case "csaf":
		r, err := csaf.Parse(file, data, im.Norm, csaf.Options{Schema: opt.Schema})
		if err != nil {
			return 0, nil, err
		}
		im.KB.Apply(r.Batch)
		return 1, r.Problems, nil
	case "kev":
		r, err := kev.Parse(file, data)
		if err != nil {
			return 0, nil, err
		}
		// The catalogue only grows: a much smaller one is broken or not
		// the catalogue, and must not wipe the KEV flags.
		if cur, _ := im.KB.KEVCount(); cur > 0 && len(r.Entries) < cur*9/10 {
			return 0, r.Problems, vuln.Fatal(vuln.Problem{File: file, Msg: fmt.Sprintf("catalogue has %d entries, the one imported before %d: refusing to shrink it", len(r.Entries), cur)})
		}
		im.KB.SetKEV(r.Catalog, r.Entries)
		return len(r.Entries), r.Problems, nil
	case "epss":
		r, err := epss.Parse(file, bytes.NewReader(data))
		if err != nil {
			return 0, nil, err
		}
		im.KB.SetEPSS(r.Scores)
		return len(r.Scores), r.Problems, nil
	case "nvd":
		base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".gz"), ".json")
		r, err := nvd.Parse(file, "nvd:"+base, data, im.Norm)
		if err != nil {
			return 0, nil, err
		}
		im.KB.Apply(r.Batch)
		return r.Records, r.Problems, nil
	case "eol":
		r, err := eol.Parse(file, data)
		if err != nil {
			return 0, nil, err
		}
		im.KB.SetEOL(r.Product)
		return len(r.Product.Releases), r.Problems, nil
	case "sbom":
		r, err := inventory.ReadSBOM(file, data, opt.Vendor, opt.Model, im.Norm)
		if err != nil {
			return 0, nil, err
		}
		im.KB.AddSBOM(r.SBOM)
		if len(r.VEX) > 0 {
			im.KB.Apply(vuln.Batch{Source: "vex:" + r.SBOM.Serial + file, Affected: r.VEX})
		}
		return len(r.SBOM.Components), r.Problems, nil
	case "vex":
		var sb vuln.SBOM
		if opt.Model != "" {
			if list := im.KB.SBOMs(im.Norm.ModelKey(opt.Vendor, opt.Model)); len(list) > 0 {
				sb = list[len(list)-1]
			}
		}
		r, err := inventory.ReadVEX(file, data, opt.Vendor, opt.Model, sb, im.Norm)
		if err != nil {
			return 0, nil, err
		}
		im.KB.Apply(vuln.Batch{Source: r.Source, Affected: r.Statements})
		return len(r.Statements), r.Problems, nil
	case "inventory":
		f, err := os.Open(file)
		if err != nil {
			return 0, nil, vuln.Fatal(vuln.Problem{File: file, Msg: err.Error()})
		}
		defer f.Close()
		r, err := inventory.ReadCSV(file, io.LimitReader(f, vuln.MaxFileSize))
		if err != nil {
			return 0, nil, err
		}
		if im.Devices != nil {
			im.Devices.Put(r.Devices)
		}
		return len(r.Devices), r.Problems, nil
	}
	return 0, nil, fmt.Errorf("unknown kind %q", kind)
}

func readMaybeGzip(file string) ([]byte, error) {
	if !strings.HasSuffix(file, ".gz") {
		return vuln.ReadFile(file, vuln.MaxFileSize)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	defer zr.Close()
	data, err := vuln.ReadAllLimit(zr, vuln.MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return data, nil
}

// expand turns paths into files: folders are searched (not recursively
// into hidden folders) for names ending in one of exts.
func expand(paths []string, exts []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no file or folder to import")
	}
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", p, err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if d.IsDir() {
				return nil
			}
			for _, e := range exts {
				if strings.HasSuffix(strings.ToLower(d.Name()), e) {
					found = append(found, path)
					break
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", p, err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// Validator returns a feeds.Validator-shaped check: the file parses as
// its kind (into a scratch knowledge base, so nothing is applied).
func Validator(norm *vuln.Normaliser) func(kind, path string) error {
	return func(kind, path string) error {
		scratch := &Importer{KB: vuln.NewKB(), Norm: norm, Devices: inventory.NewDevices(nil)}
		_, _, err := scratch.importFile(kind, path, Options{Vendor: "validate", Model: "validate"})
		return err
	}
}
