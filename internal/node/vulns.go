package node

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/heir-emd/heir/internal/assess"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/vuln"
)

// vulnBatch is how many devices' match sets one transaction replaces: big
// enough that a hospital's run is a few hundred transactions, small
// enough that SQLite's single writer is not held from ingest for long.
const vulnBatch = 200

// storeVulns replaces the stored matches of every assessed device whose
// set changed since this node last stored it (an empty set for a device
// that has none now, so that a fixed or withdrawn match disappears).
// Called with s.mu held.
func (s *Scoring) storeVulns(ctx context.Context, devs []assess.Device, day, at time.Time) error {
	sets := make([]store.VulnSet, 0, min(len(devs), vulnBatch))
	sums := make([][sha256.Size]byte, 0, cap(sets))
	flush := func() error {
		if len(sets) == 0 {
			return nil
		}
		if err := s.Store.ReplaceVulnerabilities(ctx, sets); err != nil {
			return fmt.Errorf("scoring: store vulnerabilities: %w", err)
		}
		for i, set := range sets {
			w := s.written[set.Asset]
			if !w.day.Equal(day) {
				w = digest{day: day}
			}
			w.vulns = sums[i]
			s.written[set.Asset] = w
		}
		sets, sums = sets[:0], sums[:0]
		return nil
	}
	for i := range devs {
		d := &devs[i]
		items := vulnRecords(d.Matches)
		raw, err := json.Marshal(items)
		if err != nil {
			return fmt.Errorf("scoring: vulnerabilities of %s: %w", d.Input.ID, err)
		}
		sum := sha256.Sum256(raw)
		// A set stored today and unchanged is kept (its rows keep the
		// time of the run that stored them); a new day rewrites it.
		if w, ok := s.written[d.Input.ID]; ok && w.day.Equal(day) && w.vulns == sum {
			continue
		}
		sets = append(sets, store.VulnSet{Asset: d.Input.ID, At: at, Items: items})
		sums = append(sums, sum)
		if len(sets) == vulnBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// statusRank orders the matches of one CVE: the one that speaks for it is
// open if any is (RAMA counts it), else accepted, else a false positive,
// else declared not affecting the device.
var statusRank = map[string]int{store.VulnOpen: 0, store.VulnAccepted: 1, store.VulnFalsePositive: 2, store.VulnNotAffected: 3}

// vulnRecords turns a device's matching result into one record per CVE:
// the match of the best status, then of the highest confidence, the
// choice vuln.DeviceResult.Risk makes for RAMA.
func vulnRecords(r *vuln.DeviceResult) []store.Vulnerability {
	if r == nil {
		return nil
	}
	idx := map[string]int{}
	var out []store.Vulnerability
	for i := range r.Matches {
		v := vulnRecord(&r.Matches[i])
		j, ok := idx[v.CVE]
		if !ok {
			idx[v.CVE] = len(out)
			out = append(out, v)
			continue
		}
		cur := out[j]
		if c := cmp.Compare(statusRank[v.Status], statusRank[cur.Status]); c < 0 || c == 0 && v.Confidence > cur.Confidence {
			out[j] = v
		}
	}
	slices.SortFunc(out, func(a, b store.Vulnerability) int { return cmp.Compare(a.CVE, b.CVE) })
	return out
}

func vulnRecord(m *vuln.Match) store.Vulnerability {
	v := store.Vulnerability{CVE: m.CVE, Product: m.Product, CVSS: m.CVSS, Vector: m.CVSSVector, KEV: m.KEV,
		Ransomware: m.Ransomware, Status: store.VulnOpen, Confidence: min(max(m.Confidence, 0), 1), Remediation: m.Remediation}
	if len(v.Remediation) > 4096 {
		v.Remediation = v.Remediation[:4096]
	}
	if m.EPSS != nil {
		s, p := m.EPSS.Score, m.EPSS.Percentile
		v.EPSS, v.EPSSPercentile = &s, &p
	}
	if len(m.Evidence) > 0 {
		v.Component = m.Evidence[0].DeviceValue
	}
	for _, e := range m.Evidence[:min(len(m.Evidence), store.MaxVulnEvidence)] {
		v.Evidence = append(v.Evidence, store.VulnEvidence{Source: e.Source, ProductName: e.ProductName, CPE: e.CPE,
			Rule: e.Rule, Target: e.Target, DeviceValue: e.DeviceValue, How: e.How, Verdict: e.Verdict, Confidence: e.Confidence})
	}
	if d := m.Decision; d != nil {
		comment := d.Comment
		if len(comment) > 4096 {
			comment = comment[:4096]
		}
		v.Decision = &store.VulnDecision{Subject: d.Subject, State: d.State, Comment: comment, Author: d.Author, Time: d.Time}
		switch d.State {
		case vuln.DecisionAccepted:
			v.Status = store.VulnAccepted
		case vuln.DecisionFalsePositive:
			v.Status = store.VulnFalsePositive
		}
	}
	if s := m.Suppressed; s != nil {
		v.Status = store.VulnNotAffected
		v.Suppressed = &store.VulnSuppression{Source: s.Source, Justification: s.Justification, Detail: s.Detail}
	}
	return v
}
