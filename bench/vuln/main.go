// Command vuln benchmarks vulnerability matching: a seeded generator makes
// an NVD-shaped CVE feed (NVD CVE JSON 2.0, CPE match configurations with
// version ranges) and a hospital-like inventory (device fleets of one
// model, firmware and OS strings, software components with and without
// CPEs); the feed is imported through the real NVD parser, indexed, and
// the inventory matched. The baseline, in the same run, is a linear scan
// of every statement for each device (no index), timed on a sample and
// extrapolated, and cross-checked against the index on that sample.
//
//	go run ./bench/vuln -devices 100000 -cves 250000 -seed 1
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/cpe"
	"github.com/heir-emd/heir/internal/vuln/nvd"
	"github.com/heir-emd/heir/internal/vuln/version"
)

func main() {
	devices := flag.Int("devices", 100_000, "devices in the inventory")
	cves := flag.Int("cves", 250_000, "CVE records in the feed")
	products := flag.Int("products", 100_000, "products in the universe the CVEs and devices draw from")
	models := flag.Int("models", 2_000, "device models (devices come in fleets of one model)")
	sample := flag.Int("baseline-sample", 50, "devices the linear-scan baseline is timed on")
	noCacheSample := flag.Int("nocache-sample", 1_000, "devices the index is timed on without the per-target cache")
	seed := flag.Uint64("seed", 1, "generator seed")
	gcPercent := flag.Int("gcpercent", 400, "GOGC while matching; heir's batch commands (analyze, import) run at 400")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of indexing and matching to this file")
	flag.Parse()
	debug.SetGCPercent(*gcPercent)
	profilePath = *cpuProfile
	fmt.Printf("command: %s\n", strings.Join(os.Args, " "))
	fmt.Printf("machine: %s/%s, %d CPUs, %s, GOGC=%d\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), *gcPercent)
	if err := run(*devices, *cves, *products, *models, *sample, *noCacheSample, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var profilePath string

type product struct {
	part, vendor, name string
	versions           []string // ascending
}

func run(nDev, nCVE, nProd, nModel, nSample, nNoCache int, seed uint64) error {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	norm := vuln.DefaultNormaliser()
	universe := makeUniverse(rng, nProd)
	// CVEs per product follow a Zipf law: with 250,000 records the most
	// affected product gets about 3,600 statements (NVD's Linux kernel and
	// Windows are of that order), the 2,000 most affected hold 60%, the
	// median product one.
	zipf := rand.NewZipf(rng, 1.05, 20, uint64(len(universe)-1))

	t0 := time.Now()
	feed := makeFeed(rng, zipf, universe, nCVE)
	data, err := json.Marshal(feed)
	if err != nil {
		return err
	}
	genFeed := time.Since(t0)
	t0 = time.Now()
	res, err := nvd.Parse("generated.json", "nvd:generated", data, norm)
	if err != nil {
		return err
	}
	kb := vuln.NewKB()
	kb.Apply(res.Batch)
	parse := time.Since(t0)
	fmt.Printf("feed: %d CVE records, %d statements, %.1f MB of NVD JSON; generated in %s, parsed and loaded in %s (%d problems)\n",
		res.Records, len(res.Batch.Affected), float64(len(data))/1e6, genFeed.Round(time.Millisecond), parse.Round(time.Millisecond), len(res.Problems))
	data, feed, res = nil, nil, nil // the knowledge base holds its own copy

	inv := makeInventory(rng, universe, nDev, nModel)
	runtime.GC()
	if profilePath != "" {
		f, err := os.Create(profilePath)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	t0, c0 := time.Now(), cpuTime()
	m, err := vuln.NewMatcher(ctx, kb, norm)
	if err != nil {
		return err
	}
	index, indexCPU := time.Since(t0), cpuTime()-c0
	t0, c0 = time.Now(), cpuTime()
	results, err := m.Match(ctx, inv, vuln.MatchOptions{})
	if err != nil {
		return err
	}
	match, matchCPU := time.Since(t0), cpuTime()-c0
	if profilePath != "" {
		pprof.StopCPUProfile()
	}
	nNoCache = min(nNoCache, len(inv))
	t0 = time.Now()
	nmNoCache, nmSample := 0, 0
	err = m.MatchEach(ctx, inv[:nNoCache], vuln.MatchOptions{NoCache: true}, func(r vuln.DeviceResult) error {
		nmNoCache += len(r.Matches)
		return nil
	})
	if err != nil {
		return err
	}
	matchNoCache := time.Since(t0)
	nm, affectedDev, maxPer := 0, 0, 0
	for i, r := range results {
		nm += len(r.Matches)
		if i < nNoCache {
			nmSample += len(r.Matches)
		}
		if len(r.Matches) > 0 {
			affectedDev++
		}
		maxPer = max(maxPer, len(r.Matches))
	}
	if nmSample != nmNoCache {
		return fmt.Errorf("%d matches with the cache, %d without, on the first %d devices", nmSample, nmNoCache, nNoCache)
	}
	fmt.Printf("index: %d statements in %s (CPU %s)\n", m.Statements, index.Round(time.Millisecond), indexCPU.Round(time.Millisecond))
	fmt.Printf("match: %d devices in %s (CPU %s; %.1f µs/device), %d matches on %d devices (%.1f per device, at most %d)\n", nDev, match.Round(time.Millisecond),
		matchCPU.Round(time.Millisecond), float64(match.Microseconds())/float64(nDev), nm, affectedDev, float64(nm)/float64(nDev), maxPer)
	fmt.Printf("match without the per-device and per-target caches: %d devices in %s (%.1f µs/device)\n", nNoCache, matchNoCache.Round(time.Millisecond), float64(matchNoCache.Microseconds())/float64(nNoCache))
	total := index + match
	fmt.Printf("index + match: %s wall, %s CPU (limit 30 s): %s\n", total.Round(time.Millisecond), (indexCPU + matchCPU).Round(time.Millisecond), map[bool]string{true: "PASS", false: "FAIL"}[total <= 30*time.Second])
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average during the run: %s", l)
	}

	// Baseline: a linear scan of every statement per device target.
	var all []scanRule
	kb.Affected(func(a *vuln.Affected) bool {
		all = append(all, scanRule{a: a, set: a.Versions.Compile()})
		return true
	})
	if nSample > len(inv) {
		nSample = len(inv)
	}
	t0 = time.Now()
	baseMatches := 0
	mismatch := 0
	for i := 0; i < nSample; i++ {
		got := linearScan(all, &inv[i], norm)
		baseMatches += got
		if got != exactKeyMatches(results[i]) {
			mismatch++
		}
	}
	scan := time.Since(t0)
	perDev := scan / time.Duration(nSample)
	fmt.Printf("baseline (linear scan, no index): %d devices in %s (%.0f µs/device) → %s extrapolated to %d devices\n",
		nSample, scan.Round(time.Millisecond), float64(perDev.Microseconds()), (perDev * time.Duration(nDev)).Round(time.Second), nDev)
	perIdx := float64(matchNoCache.Nanoseconds()) / float64(nNoCache)
	fmt.Printf("ratio: index without cache %.0fx faster per device than the scan; with cache %.0fx\n",
		float64(perDev.Nanoseconds())/perIdx, float64(perDev.Nanoseconds())/(float64(match.Nanoseconds())/float64(nDev)))
	fmt.Printf("cross-check on the sample: %d CPE-key matches by scan, %d devices disagreeing with the index\n", baseMatches, mismatch)
	if mismatch > 0 {
		return fmt.Errorf("index and scan disagree on %d of %d devices", mismatch, nSample)
	}
	return nil
}

var medVendors = []string{"ge_healthcare", "philips", "bd", "b_braun", "medtronic", "baxter", "draeger", "siemens_healthineers", "hillrom", "abbott", "fresenius_kabi", "smiths_medical", "mindray", "nihon_kohden", "spacelabs"}
var swWords = []string{"server", "agent", "library", "sdk", "web", "client", "gateway", "viewer", "db", "ssl", "xml", "http", "dicom", "hl7", "core", "ui"}

func makeUniverse(rng *rand.Rand, n int) []product {
	out := make([]product, n)
	for i := range out {
		p := &out[i]
		switch {
		case i%10 == 0:
			p.part = "h"
			p.vendor = medVendors[rng.IntN(len(medVendors))]
			p.name = fmt.Sprintf("%s_%d", swWords[rng.IntN(len(swWords))], 100+rng.IntN(9000))
		case i%10 == 1:
			p.part = "o"
			p.vendor = fmt.Sprintf("osvendor%d", rng.IntN(200))
			p.name = fmt.Sprintf("rtos_%d", i)
		default:
			p.part = "a"
			p.vendor = fmt.Sprintf("vendor%d", rng.IntN(n/8+1))
			p.name = fmt.Sprintf("%s_%s_%d", swWords[rng.IntN(len(swWords))], swWords[rng.IntN(len(swWords))], i)
		}
		// A release history: major.minor.patch, some with vendor forms.
		maj := 1 + rng.IntN(6)
		for r := 0; r < 6+rng.IntN(20); r++ {
			if rng.IntN(4) == 0 {
				maj++
			}
			v := fmt.Sprintf("%d.%d.%d", maj, rng.IntN(10), rng.IntN(20))
			switch rng.IntN(10) {
			case 0:
				v += fmt.Sprintf(" SP%d", 1+rng.IntN(4))
			case 1:
				v += fmt.Sprintf(" Build %d", 1000+rng.IntN(9000))
			}
			if len(p.versions) == 0 || version.Compare(version.Parse(v), version.Parse(p.versions[len(p.versions)-1])) > 0 {
				p.versions = append(p.versions, v)
			}
		}
	}
	return out
}

// NVD JSON 2.0 shapes, only what the generator fills.
type feedDoc struct {
	ResultsPerPage  int        `json:"resultsPerPage"`
	StartIndex      int        `json:"startIndex"`
	TotalResults    int        `json:"totalResults"`
	Format          string     `json:"format"`
	Version         string     `json:"version"`
	Timestamp       string     `json:"timestamp"`
	Vulnerabilities []feedItem `json:"vulnerabilities"`
}
type feedItem struct {
	CVE feedCVE `json:"cve"`
}
type feedCVE struct {
	ID             string         `json:"id"`
	Published      string         `json:"published"`
	LastModified   string         `json:"lastModified"`
	VulnStatus     string         `json:"vulnStatus"`
	Descriptions   []langValue    `json:"descriptions"`
	Metrics        map[string]any `json:"metrics"`
	Configurations []feedConfig   `json:"configurations"`
}
type langValue struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
}
type feedConfig struct {
	Operator string     `json:"operator,omitempty"`
	Nodes    []feedNode `json:"nodes"`
}
type feedNode struct {
	Operator string         `json:"operator"`
	Negate   bool           `json:"negate"`
	CPEMatch []feedCPEMatch `json:"cpeMatch"`
}
type feedCPEMatch struct {
	Vulnerable            bool   `json:"vulnerable"`
	Criteria              string `json:"criteria"`
	VersionStartIncluding string `json:"versionStartIncluding,omitempty"`
	VersionEndExcluding   string `json:"versionEndExcluding,omitempty"`
	VersionEndIncluding   string `json:"versionEndIncluding,omitempty"`
	MatchCriteriaID       string `json:"matchCriteriaId"`
}

var vectors = []string{
	"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
	"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
	"CVSS:3.1/AV:A/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
}

func cpeVersion(v string) string {
	return strings.NewReplacer(" ", "_").Replace(v)
}

func makeFeed(rng *rand.Rand, zipf *rand.Zipf, u []product, n int) *feedDoc {
	f := &feedDoc{ResultsPerPage: n, TotalResults: n, Format: "NVD_CVE", Version: "2.0", Timestamp: "2025-08-25T00:00:00.000"}
	f.Vulnerabilities = make([]feedItem, n)
	for i := range f.Vulnerabilities {
		c := &f.Vulnerabilities[i].CVE
		c.ID = fmt.Sprintf("CVE-%d-%05d", 2000+i/20000, 10000+i%20000)
		c.Published, c.LastModified, c.VulnStatus = "2020-01-01T00:00:00.000", "2020-01-01T00:00:00.000", "Analyzed"
		c.Descriptions = []langValue{{"en", "generated record"}}
		c.Metrics = map[string]any{"cvssMetricV31": []map[string]any{{"source": "nvd@nist.gov", "type": "Primary",
			"cvssData": map[string]any{"version": "3.1", "vectorString": vectors[rng.IntN(len(vectors))], "baseScore": 0}}}}
		var matches []feedCPEMatch
		for k := 0; k < 1+rng.IntN(3); k++ {
			p := &u[zipf.Uint64()]
			m := feedCPEMatch{Vulnerable: true, MatchCriteriaID: fmt.Sprintf("%08d-%d", i, k)}
			vi := rng.IntN(len(p.versions))
			switch rng.IntN(4) {
			case 0: // an exact version
				m.Criteria = fmt.Sprintf("cpe:2.3:%s:%s:%s:%s:*:*:*:*:*:*:*", p.part, p.vendor, p.name, cpeVersion(p.versions[vi]))
			case 1: // a window
				m.Criteria = fmt.Sprintf("cpe:2.3:%s:%s:%s:*:*:*:*:*:*:*:*", p.part, p.vendor, p.name)
				lo := rng.IntN(vi + 1)
				m.VersionStartIncluding, m.VersionEndExcluding = p.versions[lo], p.versions[vi]
			default: // fixed in a release
				m.Criteria = fmt.Sprintf("cpe:2.3:%s:%s:%s:*:*:*:*:*:*:*:*", p.part, p.vendor, p.name)
				m.VersionEndExcluding = p.versions[vi]
			}
			matches = append(matches, m)
		}
		cfg := feedConfig{Nodes: []feedNode{{Operator: "OR", CPEMatch: matches}}}
		if rng.IntN(7) == 0 { // firmware on a hardware platform
			hw := &u[(zipf.Uint64()/10)*10]
			cfg.Operator = "AND"
			cfg.Nodes = append(cfg.Nodes, feedNode{Operator: "OR", CPEMatch: []feedCPEMatch{{Criteria: fmt.Sprintf("cpe:2.3:h:%s:%s:-:*:*:*:*:*:*:*", hw.vendor, hw.name), MatchCriteriaID: "hw"}}})
		}
		c.Configurations = []feedConfig{cfg}
	}
	return f
}

var oses = []string{"Windows 7 Professional SP1", "Windows 10 Enterprise 21H2", "Windows XP SP3", "Linux 4.19.0", "Linux 5.10.120", "Windows Embedded Standard 7 SP1", "VxWorks 6.9", ""}

func makeInventory(rng *rand.Rand, u []product, n, nModels int) []vuln.Device {
	type model struct {
		vendor, name, fw, os string
		sw                   []vuln.Component
	}
	ms := make([]model, nModels)
	for i := range ms {
		hw := &u[(rng.IntN(len(u)/10))*10]
		m := &ms[i]
		m.vendor, m.name = hw.vendor, hw.name
		m.fw = hw.versions[rng.IntN(len(hw.versions))]
		m.os = oses[rng.IntN(len(oses))]
		for k := 0; k < 2+rng.IntN(5); k++ {
			// Half the components are common software (the 2,000 most
			// affected products), half anything.
			var p *product
			if rng.IntN(2) == 0 {
				p = &u[rng.IntN(min(2000, len(u)))]
			} else {
				p = &u[rng.IntN(len(u))]
			}
			v := p.versions[rng.IntN(len(p.versions))]
			c := vuln.Component{Name: p.name, Version: v}
			if rng.IntN(2) == 0 {
				c.CPE = fmt.Sprintf("cpe:2.3:%s:%s:%s:%s:*:*:*:*:*:*:*", p.part, p.vendor, p.name, cpeVersion(v))
			} else {
				c.Vendor = p.vendor
			}
			m.sw = append(m.sw, c)
		}
	}
	out := make([]vuln.Device, n)
	for i := range out {
		m := &ms[rng.IntN(len(ms))]
		d := vuln.Device{ID: fmt.Sprintf("dev-%06d", i), Vendor: m.vendor, Model: m.name, Firmware: m.fw, OS: m.os, Software: m.sw}
		if rng.IntN(10) == 0 { // a device updated ahead of its fleet
			d.Firmware = ""
		}
		out[i] = d
	}
	return out
}

type scanRule struct {
	a   *vuln.Affected
	set version.Set
}

// linearScan counts the statements whose CPE vendor and product keys equal
// a device component's and whose range holds its version: what the index
// finds by key, found by looking at every statement.
func linearScan(all []scanRule, d *vuln.Device, norm *vuln.Normaliser) int {
	type tgt struct {
		vk, pk string
		v      version.Version
	}
	var ts []tgt
	vk := norm.Vendor(d.Vendor)
	ts = append(ts, tgt{vk, norm.Product(vk, d.Model), version.Parse(d.Firmware)})
	for _, c := range d.Software {
		if c.CPE != "" {
			n, err := cpe.Parse(c.CPE)
			if err != nil {
				continue
			}
			cvk := norm.Vendor(n.Get(cpe.Vendor))
			ts = append(ts, tgt{cvk, norm.Product(cvk, n.Get(cpe.Product)), version.Parse(c.Version)})
			continue
		}
		cvk := norm.Vendor(c.Vendor)
		ts = append(ts, tgt{cvk, norm.Product(cvk, c.Name), version.Parse(c.Version)})
	}
	seen := map[string]bool{}
	for i := range all {
		r := &all[i]
		for _, t := range ts {
			if r.a.VendorKey == t.vk && r.a.ProductKey == t.pk {
				if ver := r.set.Contains(t.v); ver == version.In || ver == version.Unknown {
					seen[r.a.CVE+"\x00"+r.a.VendorKey+"/"+r.a.ProductKey] = true
				}
			}
		}
	}
	return len(seen)
}

// exactKeyMatches counts the index's matches found by vendor and product
// key equality, the same set the scan looks for.
func exactKeyMatches(r vuln.DeviceResult) int {
	n := 0
	for _, m := range r.Matches {
		if strings.HasPrefix(m.Product, "cpe:") {
			n++
		}
	}
	return n
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// says what the work cost when the wall clock also counts others' work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
