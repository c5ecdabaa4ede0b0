// Command rama measures the RAMA score on a generated hospital: a full
// recompute of every device, and the re-scoring of one changed device with
// the incremental update of the Local RAMA, each beside a named baseline
// run in the same invocation.
//
//	go run ./bench/rama [-devices 350000] [-seed 1] [-updates 20000] [-rounds 5]
//
// Baselines:
//   - recompute: "bare formula", the design brief's proposal computed in
//     one pass per device (noisy-OR of weighted parts times impact) with no
//     controls, repeat discounts, floors, attribution or roll-up: what the
//     extras cost.
//   - update: "re-sort", re-scoring the device and recomputing the roll-up
//     from every device's score by sorting them, as a roll-up without
//     incremental state must.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/rama/ramagen"
)

func main() {
	n := flag.Int("devices", 350000, "devices in the generated hospital")
	seed := flag.Uint64("seed", 1, "generator seed")
	updates := flag.Int("updates", 20000, "single-device updates to time")
	rounds := flag.Int("rounds", 5, "full recomputes to time (the median is reported)")
	flag.Parse()
	if err := run(*n, *seed, *updates, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench/rama:", err)
		os.Exit(1)
	}
}

func run(n int, seed uint64, updates, rounds int) error {
	ctx := context.Background()
	fmt.Printf("command:  go run ./bench/rama %s\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("machine:  %s, %d CPUs, GOMAXPROCS %d, %s %s/%s\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)

	t0 := time.Now()
	devs := ramagen.Generate(ramagen.Options{Devices: n, Seed: seed})
	at := ramagen.DefaultAt
	var vulns, finds, alerts int
	for _, d := range devs {
		vulns += len(d.Vulnerabilities)
		finds += len(d.Findings)
		alerts += len(d.Alerts)
	}
	fmt.Printf("hospital: %d devices (seed %d): %d vulnerabilities, %d findings, %d alerts; generated in %v\n",
		n, seed, vulns, finds, alerts, time.Since(t0).Round(time.Millisecond))

	s, err := rama.NewScorer(rama.DefaultConfig())
	if err != nil {
		return err
	}
	e := rama.NewEngine(s)
	runtime.GC()
	t0 = time.Now()
	if err := e.Load(ctx, devs, at); err != nil {
		return err
	}
	load := time.Since(t0)
	h := e.Hospital()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("load:     %v (index, score, roll-up); Local RAMA %.1f %s; heap %d MB\n\n", load.Round(time.Millisecond), h.Score, h.Band, ms.HeapAlloc>>20)

	// Full recompute against the bare formula.
	var full, bare []time.Duration
	var sink float64
	for range rounds {
		runtime.GC()
		t0 = time.Now()
		if err := e.Recompute(ctx, at); err != nil {
			return err
		}
		full = append(full, time.Since(t0))
		runtime.GC()
		t0 = time.Now()
		sink += bareAll(devs, at)
		bare = append(bare, time.Since(t0))
	}
	fm, bm := median(full), median(bare)
	fmt.Printf("%-34s %12s %14s %12s\n", "full recompute", "median", "µs/device", "devices/s")
	fmt.Printf("%-34s %12v %14.2f %12.0f\n", "rama Engine.Recompute", fm.Round(time.Millisecond), us(fm)/float64(n), float64(n)/fm.Seconds())
	fmt.Printf("%-34s %12v %14.2f %12.0f\n", "baseline: bare formula", bm.Round(time.Millisecond), us(bm)/float64(n), float64(n)/bm.Seconds())
	fmt.Printf("ratio rama/bare: %.2fx   target ≤ 5 s: %s\n\n", fm.Seconds()/bm.Seconds(), verdict(fm <= 5*time.Second))

	// Single-device updates: change a device, re-score it, update the
	// roll-up and read the Local RAMA.
	r := rand.New(rand.NewPCG(seed, 99))
	scores := make([]float64, n)
	for i, d := range devs {
		res, _ := e.Result(d.ID)
		scores[i] = res.Residual
	}
	extra := []rama.Finding{{Kind: "default-credentials", Severity: "high"}, {Kind: "cleartext-login", Severity: "low"}}
	change := func(i int) *rama.Device {
		d := *devs[i]
		if len(d.Findings) > 0 && r.IntN(2) == 0 {
			d.Findings = d.Findings[:len(d.Findings)-1]
		} else {
			d.Findings = append(slices.Clip(d.Findings), extra[r.IntN(len(extra))])
		}
		devs[i] = &d
		return &d
	}
	inc := make([]time.Duration, 0, updates)
	ups := make([]time.Duration, 0, updates)
	for range updates {
		i := r.IntN(n)
		d := change(i)
		t0 = time.Now()
		e.Upsert(d, at)
		t1 := time.Now()
		h = e.Hospital()
		inc = append(inc, time.Since(t0))
		ups = append(ups, t1.Sub(t0))
	}
	base := make([]time.Duration, 0, updates/100+1)
	cfg := s.Config().Hospital
	for range max(1, updates/100) {
		i := r.IntN(n)
		d := change(i)
		t0 = time.Now()
		scores[i] = s.Score(d, at).Residual
		sink += resortRollup(scores, cfg.TopK, cfg.ShareWeight, cfg.ShareSaturation)
		base = append(base, time.Since(t0))
	}
	slices.Sort(inc)
	slices.Sort(ups)
	slices.Sort(base)
	fmt.Printf("%-34s %10s %10s %10s %10s %10s\n", "one changed device", "p50", "p90", "p99", "max", "updates")
	row := func(name string, d []time.Duration) {
		fmt.Printf("%-34s %10v %10v %10v %10v %10d\n", name, q(d, 0.5).Round(100*time.Nanosecond), q(d, 0.9).Round(100*time.Nanosecond),
			q(d, 0.99).Round(100*time.Nanosecond), d[len(d)-1].Round(100*time.Nanosecond), len(d))
	}
	row("rama Upsert", ups)
	row("rama Upsert + Hospital", inc)
	row("baseline: re-score + re-sort", base)
	fmt.Printf("ratio re-sort/rama (p50): %.0fx   target ≤ 1 ms: %s\n", float64(q(base, 0.5))/float64(q(inc, 0.5)), verdict(q(inc, 0.99) <= time.Millisecond))
	fmt.Printf("Local RAMA after the updates: %.1f %s (%d devices)\n", h.Score, h.Band, h.Devices)
	if math.IsNaN(sink) {
		fmt.Println(sink)
	}
	return nil
}

// bareAll scores every device with the design brief's formula and
// nothing else, on all CPUs like Engine.Recompute.
func bareAll(devs []*rama.Device, at time.Time) float64 {
	workers := runtime.GOMAXPROCS(0)
	out := make([]float64, workers)
	done := make(chan struct{})
	chunk := (len(devs) + workers - 1) / workers
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			lo, hi := w*chunk, min((w+1)*chunk, len(devs))
			sum := 0.0
			for _, d := range devs[lo:hi] {
				sum += bare(d, at)
			}
			out[w] = sum
		}()
	}
	for range workers {
		<-done
	}
	t := 0.0
	for _, x := range out {
		t += x
	}
	return t
}

var bareKinds = map[string]float64{"default-credentials": 0.9, "unauthenticated-access": 0.7, "cleartext-credentials": 0.6,
	"smbv1": 0.5, "cleartext-phi": 0.4, "cleartext-login": 0.3, "obsolete-tls": 0.25, "weak-cipher": 0.25, "weak-certificate": 0.15}

var bareImpact = map[string]float64{"infusion-pump": 0.97, "patient-monitor": 0.91, "ventilator": 1, "modality": 0.94, "pacs": 0.94}

// bare is L = 1 − Π(1 − wᵢ·pᵢ) times impact, one pass, no extras.
func bare(d *rama.Device, at time.Time) float64 {
	q := 1.0
	for i := range d.Vulnerabilities {
		v := &d.Vulnerabilities[i]
		e := 0.02
		if v.KEV {
			e = 1
		} else if v.EPSS != nil {
			e = *v.EPSS
		}
		q *= 1 - min(0.999, v.CVSS/10*e)
	}
	for i := range d.Findings {
		q *= 1 - bareKinds[d.Findings[i].Kind]
	}
	for i := range d.EOL {
		if at.After(d.EOL[i].EOL) {
			q *= 1 - 0.45
		}
	}
	for i := range d.Alerts {
		q *= 1 - 0.3*math.Exp2(-at.Sub(d.Alerts[i].Time).Hours()/168)
	}
	if d.Exposure.FlatNetwork {
		q *= 0.8
	}
	if d.Exposure.Internet {
		q *= 0.6
	}
	im, ok := bareImpact[d.Role]
	if !ok {
		im = 0.5
	}
	return 100 * (1 - q) * im
}

// resortRollup computes the Local RAMA from all scores without
// incremental state.
func resortRollup(scores []float64, k int, w, sat float64) float64 {
	s := slices.Clone(scores)
	slices.Sort(s)
	k = min(k, len(s))
	top := 0.0
	for _, x := range s[len(s)-k:] {
		top += x
	}
	top /= float64(k)
	high := len(s) - sort70(s)
	share := float64(high) / float64(len(s))
	return top + (100-top)*w*min(1, share/sat)
}

func sort70(s []float64) int {
	i, _ := slices.BinarySearch(s, 70)
	return i
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func q(d []time.Duration, p float64) time.Duration {
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
