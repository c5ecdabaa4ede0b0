package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/feeds"
	"github.com/heir-emd/heir/internal/vuln/importer"
)

// runImport: heir import KIND [flags] PATH…
func runImport(e *env, args []string) int {
	fs := newFlags("import", "heir import csaf|kev|epss|nvd|eol|sbom|vex|inventory [flags] PATH ...", `
Import vulnerability knowledge and inventories into heir's data directory:
CSAF 2.0 advisories, the CISA KEV catalogue, EPSS daily files, NVD CVE JSON
2.0 feeds, endoflife.date product files, CycloneDX SBOMs and VEX documents,
and device inventories as CSV (docs/inventory-import.md). Paths may be files
or folders. A broken file is reported with its position and changes nothing
already imported.`)
	dataDir := fs.String("data", defaultDataDir(), "heir's data `DIR`")
	vendor := fs.String("vendor", "", "with sbom or vex: the device vendor the document belongs to, when it does not say")
	model := fs.String("model", "", "with sbom or vex: the device model the document belongs to, when it does not say")
	schema := fs.Bool("schema", false, "with csaf: also validate each advisory against the CSAF 2.0 JSON schema")
	asJSON := fs.Bool("json", false, "print the import report as JSON")
	kind := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		kind, args = args[0], args[1:]
	}
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	if kind == "" || fs.NArg() == 0 {
		return usageError(e.stderr, "import", "say what to import (%s) and from which files", strings.Join(importer.Kinds, ", "))
	}
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	rep, err := importer.Run(e.ctx, kbDir(*dataDir), kind, fs.Args(), importer.Options{Vendor: *vendor, Model: *model, Schema: *schema}, e.log)
	if err != nil {
		return usageError(e.stderr, "import", "%v", err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		fmt.Fprintf(e.stdout, "imported %d %s records from %d of %d files\n", rep.Records, kind, rep.Files-rep.Rejected, rep.Files)
		for _, p := range rep.Problems {
			fmt.Fprintf(e.stdout, "  %s\n", p.String())
		}
	}
	if rep.Files > 0 && rep.Rejected == rep.Files {
		fmt.Fprintf(e.stderr, "heir import: no file could be imported; nothing changed\n")
		return ExitUsage
	}
	return ExitOK
}

// kbDir is where imported knowledge and inventories live.
func kbDir(dataDir string) string { return filepath.Join(dataDir, "knowledge") }

// runFeeds: heir feeds update [flags]
func runFeeds(e *env, args []string) int {
	fs := newFlags("feeds", "heir feeds update [flags]", `
Download the vulnerability feeds (CISA KEV, EPSS, NVD CVE 2.0 yearly files,
endoflife.date products) from their official addresses, verify what the
publishers let us verify (published digests, NVD .meta files, sizes, that
each file parses), keep the previous copy of any feed whose download is
broken, and import them.`)
	dataDir := fs.String("data", defaultDataDir(), "heir's data `DIR`")
	years := fs.String("nvd-years", "2002-"+strconv.Itoa(time.Now().Year()), "NVD yearly feeds to fetch, a `RANGE` such as 2015-2026 (empty for none)")
	var overrides multiFlag
	fs.Var(&overrides, "url", "fetch feed NAME from another address, as `NAME=URL` (repeatable; names as in the output, e.g. kev, epss, nvd-2024, eol-windows)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	verb := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	if verb != "update" || fs.NArg() > 0 {
		return usageError(e.stderr, "feeds", "the only verb is update")
	}
	ys, err := yearRange(*years)
	if err != nil {
		return usageError(e.stderr, "feeds", "--nvd-years: %v", err)
	}
	list := feeds.DefaultFeeds(ys)
	for _, o := range overrides {
		name, url, ok := strings.Cut(o, "=")
		found := false
		for i := range list {
			if list[i].Name == name {
				list[i].URL, found = url, true
			}
		}
		if !ok || !found {
			return usageError(e.stderr, "feeds", "--url %q: want NAME=URL with a known feed name", o)
		}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	feedsDir := filepath.Join(*dataDir, "feeds")
	up := &feeds.Updater{Dir: feedsDir, Validate: importer.Validator(vuln.DefaultNormaliser()), Log: e.log}
	res, err := up.Update(e.ctx, list)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir feeds update: %v\n", err)
		return ExitInternal
	}
	reps, err := importer.ImportFeeds(e.ctx, kbDir(*dataDir), feedsDir, e.log)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"feeds": res, "imports": reps})
	} else {
		w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "FEED\tSTATUS\tCHECKED\tERROR")
		for _, r := range res {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Feed, r.Status, r.Verified, r.Err)
		}
		w.Flush()
		for _, r := range reps {
			fmt.Fprintf(e.stdout, "imported %d %s records from %d files\n", r.Records, r.Kind, r.Files-r.Rejected)
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "heir feeds update: %v\n", err)
		return ExitInternal
	}
	failed := 0
	for _, r := range res {
		if r.Status == feeds.Failed {
			failed++
		}
	}
	if failed == len(res) && len(res) > 0 {
		fmt.Fprintf(e.stderr, "heir feeds update: every download failed (offline?); the previous data is kept\n")
		return ExitUsage
	}
	return ExitOK
}

func yearRange(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	from, err1 := strconv.Atoi(a)
	to, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || from < 2002 || to < from || to > 2100 {
		return nil, fmt.Errorf("%q is not a range of years such as 2015-2026", s)
	}
	var out []int
	for y := from; y <= to; y++ {
		out = append(out, y)
	}
	return out, nil
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
