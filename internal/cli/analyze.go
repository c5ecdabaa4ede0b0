package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/report"
	"github.com/heir-emd/heir/internal/sensor"
)

func runAnalyze(e *env, args []string) int {
	fs := newFlags("analyze", "heir analyze [flags] FILE|DIR ...", `
Analyse capture files (pcap or pcapng, optionally gzip-compressed) and
directories of them, read together in time order. Prints the devices found,
the protocols they speak and the weaknesses seen on the wire (cleartext
patient data, cleartext or default logins, obsolete TLS, SMBv1 …).`)
	var (
		asJSON  = fs.Bool("json", false, "print the report as one JSON document")
		events  = fs.String("events", "", "also write every event (flows, observations, assets) as JSON lines to `FILE` ('-' for standard output)")
		failOn  = fs.String("fail-on", "", "exit with code 1 if weaknesses of these `KINDS` were seen, or alerts of at least a severity (comma-separated kinds, a severity such as 'high', or 'any')")
		progArg = fs.String("progress", "auto", "progress bar on standard error: auto (when it is a terminal), always or never")
		cpuProf = fs.String("cpuprofile", "", "write a Go CPU profile of the analysis to `FILE` (for performance work)")
	)
	var sf sensorFlags
	sf.register(fs)
	sf.registerEngines(fs, true)
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return usageError(e.stderr, "analyze", "give at least one capture file or directory")
	}
	match, err := weaknessMatcher(*failOn)
	if err != nil {
		return usageError(e.stderr, "analyze", "%v", err)
	}
	findings := detect.NewCollector()
	set, err := sf.build(findings, e.log)
	if err != nil {
		return usageError(e.stderr, "analyze", "%v", err)
	}
	src, err := capture.OpenFiles(fs.Args())
	if err != nil {
		fmt.Fprintf(e.stderr, "heir analyze: %v\nCheck the path; heir reads pcap and pcapng files, gzip-compressed or not, and directories of them.\n", err)
		return ExitUsage
	}
	defer src.Close()

	collector := report.NewCollector()
	outs := []sensor.Output{set.inventory, collector}
	outs = append(outs, set.outputs()...)
	var jl *jsonLines
	if *events != "" {
		w, closeFn, err := openOutput(*events, e.stdout)
		if err != nil {
			return usageError(e.stderr, "analyze", "events file: %v", err)
		}
		defer closeFn()
		jl = newJSONLines(w)
		outs = append(outs, jl)
	}
	s := sensor.New(set.config, set.dissectors, sensor.Tee(outs...))
	if *cpuProf != "" {
		stop, err := startCPUProfile(*cpuProf)
		if err != nil {
			return usageError(e.stderr, "analyze", "--cpuprofile: %v", err)
		}
		defer stop()
	}
	// An analysis holds bounded state (flows, reassembly, devices) and
	// allocates mostly per flow: collecting less often buys speed for a
	// little memory (measured in bench/README.md). GOGC, when set, rules.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	bar := newProgress(e.stderr, *progArg, totalSize(fs.Args()))
	err = runSource(e.ctx, s, src, bar)
	bar.done()
	if err != nil {
		fmt.Fprintf(e.stderr, "heir analyze: interrupted: %v\n", err)
		return ExitInternal
	}
	// The capture is over: close every open alert, emit every finding
	// as it stands; keep what the baselines learnt if asked.
	set.flush()
	snap, err := set.snapshotBaseline()
	if err == nil {
		err = set.saveBaseline(snap)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "heir analyze: %v\n", err)
		return ExitInternal
	}
	alerts, found := findings.Alerts(), findings.Findings()
	assets := set.inventory.Assets()
	if jl != nil {
		for i := range assets {
			jl.write(&assets[i])
		}
		for i := range found {
			jl.write(&found[i])
		}
		for i := range alerts {
			jl.write(&alerts[i])
		}
		if err := jl.flush(); err != nil {
			fmt.Fprintf(e.stderr, "heir analyze: write events: %v\n", err)
			return ExitInternal
		}
	}
	rep := collector.Report(s.Stats(), src.Stats(), assets)
	rep.Findings, rep.Alerts = found, alerts
	rep.Detection = set.detect != nil
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(e.stderr, "heir analyze: %v\n", err)
			return ExitInternal
		}
	} else if *events != "-" {
		if err := rep.WriteText(e.stdout); err != nil {
			fmt.Fprintf(e.stderr, "heir analyze: %v\n", err)
			return ExitInternal
		}
	}
	if allFailed(rep.Inputs) {
		fmt.Fprintf(e.stderr, "heir analyze: no input could be read\n")
		return ExitUsage
	}
	for _, w := range rep.Weaknesses {
		if match(w.Kind) {
			return ExitFindings
		}
	}
	for _, a := range rep.Alerts {
		if alertFails(*failOn, a.Severity) {
			return ExitFindings
		}
	}
	return ExitOK
}

// alertFails says whether --fail-on's severity threshold (or "any")
// covers an alert of severity sev.
func alertFails(spec, sev string) bool {
	rank := map[string]int{"low": 1, "medium": 2, "high": 3, "critical": 4}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "any" || (rank[part] > 0 && rank[sev] >= rank[part]) {
			return true
		}
	}
	return false
}

func allFailed(in []capture.InputStats) bool {
	for _, s := range in {
		if s.Error == "" || s.Packets > 0 {
			return false
		}
	}
	return len(in) > 0
}

// weaknessMatcher parses --fail-on.
func weaknessMatcher(spec string) (func(event.WeaknessKind) bool, error) {
	if spec == "" {
		return func(event.WeaknessKind) bool { return false }, nil
	}
	known := map[event.WeaknessKind]bool{}
	for _, k := range allWeaknessKinds {
		known[k] = true
	}
	kinds := map[event.WeaknessKind]bool{}
	sev := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		switch part {
		case "any":
			return func(event.WeaknessKind) bool { return true }, nil
		case "high", "medium", "low":
			sev[part] = true
		default:
			if !known[event.WeaknessKind(part)] {
				names := make([]string, len(allWeaknessKinds))
				for i, k := range allWeaknessKinds {
					names[i] = string(k)
				}
				return nil, fmt.Errorf("--fail-on: unknown weakness %q; use any, high, medium, low or one of %s", part, strings.Join(names, ", "))
			}
			kinds[event.WeaknessKind(part)] = true
		}
	}
	return func(k event.WeaknessKind) bool {
		if kinds[k] {
			return true
		}
		s := report.Severity(k)
		// A severity threshold includes the more severe levels.
		return sev[s] || (s == "high" && (sev["medium"] || sev["low"])) || (s == "medium" && sev["low"])
	}, nil
}

var allWeaknessKinds = []event.WeaknessKind{
	event.WeakCleartextPHI, event.WeakCleartextCredentials, event.WeakDefaultCredentials,
	event.WeakObsoleteTLS, event.WeakCipher, event.WeakCertificate, event.WeakSMBv1,
	event.WeakCleartextLogin, event.WeakUnauthenticated,
}

func totalSize(paths []string) int64 {
	var n int64
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !st.IsDir() {
			n += st.Size()
			continue
		}
		// Directories: progress is shown without a total.
		return -1
	}
	return n
}
