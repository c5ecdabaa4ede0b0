package cli

import (
	"fmt"
	"os/user"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/importer"
)

// runDecide: heir decide [flags] DEVICE CVE STATE [INPUTS…]
func runDecide(e *env, args []string) int {
	fs := newFlags("decide", "heir decide [flags] DEVICE CVE false-positive|accepted|open [CAPTURE|EVENTS.jsonl ...]", `
Record an analyst's decision on a vulnerability match: false-positive (the
device is not affected: the match no longer counts), accepted (the risk is
known and accepted: it counts as the scoring configuration says) or open
(withdraw an earlier decision). The decision is kept with the imported
knowledge and survives re-imports; heir score respects it. DEVICE is named
as for heir explain; inputs are read as for heir score, to find the match.`)
	var f scoreFlags
	f.register(fs)
	comment := fs.String("comment", "", "why (required for false-positive and accepted): what was checked, by whom")
	model := fs.Bool("model", false, "decide for every device of the same vendor and model, not only this one")
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	if fs.NArg() < 3 {
		return usageError(e.stderr, "decide", "say which device, which CVE and the decision")
	}
	devName, cve, state := fs.Arg(0), strings.ToUpper(fs.Arg(1)), fs.Arg(2)
	switch state {
	case vuln.DecisionFalsePositive, vuln.DecisionAccepted:
		if strings.TrimSpace(*comment) == "" {
			return usageError(e.stderr, "decide", "a %s decision needs --comment saying why", state)
		}
	case "open":
	default:
		return usageError(e.stderr, "decide", "the decision is false-positive, accepted or open, not %q", state)
	}
	a, code := f.assessInputs(e, "decide", fs.Args()[3:])
	if a == nil {
		return code
	}
	id, err := resolveDevice(a.devices, devName)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir decide: %v\n", err)
		return ExitUsage
	}
	var products []string
	var subject string
	for _, d := range a.devices {
		if d.Input.ID != id || d.Matches == nil {
			continue
		}
		subject = id
		for _, m := range d.Matches.Matches {
			if m.CVE == cve {
				products = append(products, m.Product)
			}
		}
		if *model {
			v, mo := "", ""
			if d.Import != nil {
				v, mo = d.Import.Vendor, d.Import.Model
			}
			if d.Asset != nil {
				if v == "" {
					v = d.Asset.Vendor
				}
				if mo == "" {
					mo = d.Asset.Model
				}
			}
			if v == "" || mo == "" {
				return usageError(e.stderr, "decide", "--model: heir does not know %s's vendor and model (import an inventory that says them)", id)
			}
			subject = "model:" + vuln.DefaultNormaliser().ModelKey(v, mo)
		}
	}
	if len(products) == 0 {
		fmt.Fprintf(e.stderr, "heir decide: %s has no match for %s (heir explain %s lists its vulnerabilities)\n", id, cve, id)
		return ExitUsage
	}
	st := importer.Store{Dir: kbDir(f.dataDir)}
	kb, devs, err := st.Load()
	if err != nil {
		fmt.Fprintf(e.stderr, "heir decide: %v\n", err)
		return ExitUsage
	}
	author := "unknown"
	if u, err := user.Current(); err == nil {
		author = u.Username
	}
	for _, p := range products {
		kb.Decide(vuln.Decision{Subject: subject, CVE: cve, Product: p, State: state, Comment: *comment, Author: author, Time: time.Now().UTC()})
	}
	if err := st.Save(kb, devs); err != nil {
		fmt.Fprintf(e.stderr, "heir decide: %v\n", err)
		return ExitInternal
	}
	fmt.Fprintf(e.stdout, "%s on %s marked %s (%d matched product(s))\n", cve, subject, state, len(products))
	return ExitOK
}
