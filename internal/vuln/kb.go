package vuln

import (
	"slices"
	"sort"
	"strings"
	"sync"
)

// Knowledge is what matching reads. The in-memory KB implements it; the
// store (issue 5) will too.
type Knowledge interface {
	// Affected calls fn for every product statement; fn returns false to
	// stop.
	Affected(fn func(*Affected) bool)
	// Vulnerability returns what is known about one id.
	Vulnerability(id string) (*Vulnerability, bool)
	// EOL returns the end-of-life catalogue.
	EOL() []EOLProduct
	// SBOMs returns the SBOMs attached to a device model key.
	SBOMs(modelKey string) []SBOM
	// Decisions returns the analysts' decisions.
	Decisions() []Decision
}

// KB is the in-memory knowledge base: vulnerabilities merged by id,
// product statements grouped by the source that made them (so that a
// re-import of an advisory replaces its statements and nothing else), the
// KEV and EPSS joins, the end-of-life catalogue, SBOMs per device model,
// and analysts' decisions. It is safe for concurrent use.
type KB struct {
	mu         sync.RWMutex
	vulns      map[string]*Vulnerability
	bySource   map[string][]Affected // source → its statements
	advisories map[string]Advisory
	kev        map[string]KEV
	kevCatalog string
	epss       map[string]EPSS
	eol        map[string]EOLProduct
	sboms      map[string][]SBOM // model key → SBOMs (one per serial/file)
	decisions  map[string]Decision
}

// NewKB returns an empty knowledge base.
func NewKB() *KB {
	return &KB{
		vulns: map[string]*Vulnerability{}, bySource: map[string][]Affected{}, advisories: map[string]Advisory{},
		kev: map[string]KEV{}, epss: map[string]EPSS{}, eol: map[string]EOLProduct{}, sboms: map[string][]SBOM{},
		decisions: map[string]Decision{},
	}
}

// Batch is what one parsed document adds: vulnerabilities and the product
// statements of one source. Applying a batch replaces every earlier
// statement of the same source.
type Batch struct {
	Source   string          `json:"source"`
	Advisory *Advisory       `json:"advisory,omitempty"`
	Vulns    []Vulnerability `json:"vulns,omitempty"`
	Affected []Affected      `json:"affected,omitempty"`
}

// Apply merges a batch.
func (kb *KB) Apply(b Batch) {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	for i := range b.Vulns {
		kb.mergeVuln(&b.Vulns[i])
	}
	if b.Source != "" {
		if len(b.Affected) == 0 {
			delete(kb.bySource, b.Source)
		} else {
			kb.bySource[b.Source] = slices.Clone(b.Affected)
		}
	}
	if b.Advisory != nil {
		kb.advisories[b.Advisory.ID] = *b.Advisory
	}
}

// mergeVuln folds a source's view of a vulnerability into the record:
// text fields are filled when empty, lists are unioned, CVSS vectors kept
// once per (version, vector).
func (kb *KB) mergeVuln(v *Vulnerability) {
	cur, ok := kb.vulns[v.ID]
	if !ok {
		c := *v
		c.CWEs = slices.Clone(v.CWEs)
		c.CVSS = slices.Clone(v.CVSS)
		c.Sources = slices.Clone(v.Sources)
		if k, ok := kb.kev[v.ID]; ok {
			c.KEV = &k
		}
		if e, ok := kb.epss[v.ID]; ok {
			c.EPSS = &e
		}
		kb.vulns[v.ID] = &c
		return
	}
	if cur.Title == "" {
		cur.Title = v.Title
	}
	if cur.Description == "" {
		cur.Description = v.Description
	}
	if cur.Published.IsZero() || (!v.Published.IsZero() && v.Published.Before(cur.Published)) {
		cur.Published = v.Published
	}
	if v.Modified.After(cur.Modified) {
		cur.Modified = v.Modified
	}
	for _, w := range v.CWEs {
		if !slices.Contains(cur.CWEs, w) {
			cur.CWEs = append(cur.CWEs, w)
		}
	}
	for _, c := range v.CVSS {
		if !slices.ContainsFunc(cur.CVSS, func(x CVSS) bool { return x.Version == c.Version && x.Vector == c.Vector }) {
			cur.CVSS = append(cur.CVSS, c)
		}
	}
	for _, s := range v.Sources {
		if !slices.ContainsFunc(cur.Sources, func(x SourceRef) bool { return x.Kind == s.Kind && x.ID == s.ID }) {
			cur.Sources = append(cur.Sources, s)
		}
	}
}

// SetKEV replaces the KEV catalogue (a new catalogue supersedes the old
// one whole: entries are never removed from KEV, so a smaller catalogue
// is a broken one and the caller should not apply it).
func (kb *KB) SetKEV(catalog string, entries map[string]KEV) {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	kb.kev = entries
	kb.kevCatalog = catalog
	for id, v := range kb.vulns {
		if k, ok := entries[id]; ok {
			v.KEV = &k
		} else {
			v.KEV = nil
		}
	}
}

// KEVCount returns the size of the catalogue and its version.
func (kb *KB) KEVCount() (int, string) {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	return len(kb.kev), kb.kevCatalog
}

// SetEPSS merges EPSS scores (newer dates replace older ones per CVE).
func (kb *KB) SetEPSS(scores map[string]EPSS) {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	for id, s := range scores {
		if cur, ok := kb.epss[id]; ok && cur.Date > s.Date {
			continue
		}
		kb.epss[id] = s
		if v, ok := kb.vulns[id]; ok {
			s := s
			v.EPSS = &s
		}
	}
}

// KEVEntry returns the KEV entry of a CVE, whether or not any advisory
// names it.
func (kb *KB) KEVEntry(id string) (KEV, bool) {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	k, ok := kb.kev[id]
	return k, ok
}

// EPSSScore returns the EPSS score of a CVE.
func (kb *KB) EPSSScore(id string) (EPSS, bool) {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	e, ok := kb.epss[id]
	return e, ok
}

// SetEOL adds or replaces an end-of-life product.
func (kb *KB) SetEOL(p EOLProduct) {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	kb.eol[p.Slug] = p
}

// AddSBOM attaches an SBOM to its model, replacing an earlier SBOM with
// the same serial number (or file) for that model.
func (kb *KB) AddSBOM(s SBOM) {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	list := kb.sboms[s.ModelKey]
	id := s.Serial
	if id == "" {
		id = s.File
	}
	list = slices.DeleteFunc(list, func(x SBOM) bool {
		xid := x.Serial
		if xid == "" {
			xid = x.File
		}
		return id != "" && xid == id
	})
	kb.sboms[s.ModelKey] = append(list, s)
}

// Decide records an analyst's decision, replacing an earlier one with the
// same key.
func (kb *KB) Decide(d Decision) {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	kb.decisions[d.Key()] = d
}

// Affected implements Knowledge: statements in a stable order (by source).
func (kb *KB) Affected(fn func(*Affected) bool) {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	srcs := make([]string, 0, len(kb.bySource))
	for s := range kb.bySource {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, s := range srcs {
		list := kb.bySource[s]
		for i := range list {
			if !fn(&list[i]) {
				return
			}
		}
	}
}

// Vulnerability implements Knowledge. The returned record is shared: do
// not change it.
func (kb *KB) Vulnerability(id string) (*Vulnerability, bool) {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	v, ok := kb.vulns[id]
	if !ok {
		// A CVE only KEV or EPSS know about still has those facts.
		k, kok := kb.kev[id]
		e, eok := kb.epss[id]
		if !kok && !eok {
			return nil, false
		}
		v = &Vulnerability{ID: id}
		if kok {
			v.KEV = &k
		}
		if eok {
			v.EPSS = &e
		}
		return v, true
	}
	return v, true
}

// EOL implements Knowledge.
func (kb *KB) EOL() []EOLProduct {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	out := make([]EOLProduct, 0, len(kb.eol))
	for _, p := range kb.eol {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	return out
}

// SBOMs implements Knowledge.
func (kb *KB) SBOMs(modelKey string) []SBOM {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	return slices.Clone(kb.sboms[modelKey])
}

// Decisions implements Knowledge.
func (kb *KB) Decisions() []Decision {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	out := make([]Decision, 0, len(kb.decisions))
	for _, d := range kb.decisions {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Stats summarises the knowledge base.
type Stats struct {
	Vulnerabilities int `json:"vulnerabilities"`
	CVEs            int `json:"cves"`
	Advisories      int `json:"advisories"`
	Statements      int `json:"statements"`
	KEV             int `json:"kev"`
	KEVInKB         int `json:"kev_in_kb"` // vulnerabilities of the KB that KEV lists
	EPSS            int `json:"epss"`
	EOLProducts     int `json:"eol_products"`
	SBOMs           int `json:"sboms"`
	Decisions       int `json:"decisions"`
}

// Stats counts what the knowledge base holds.
func (kb *KB) Stats() Stats {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	s := Stats{Vulnerabilities: len(kb.vulns), Advisories: len(kb.advisories), KEV: len(kb.kev), EPSS: len(kb.epss),
		EOLProducts: len(kb.eol), Decisions: len(kb.decisions)}
	for id, v := range kb.vulns {
		if strings.HasPrefix(id, "CVE-") {
			s.CVEs++
		}
		if v.KEV != nil {
			s.KEVInKB++
		}
	}
	for _, l := range kb.bySource {
		s.Statements += len(l)
	}
	for _, l := range kb.sboms {
		s.SBOMs += len(l)
	}
	return s
}

// IDs returns the ids of all vulnerabilities, sorted.
func (kb *KB) IDs() []string {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	out := make([]string, 0, len(kb.vulns))
	for id := range kb.vulns {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Advisories returns the imported advisories, sorted by id.
func (kb *KB) Advisories() []Advisory {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	out := make([]Advisory, 0, len(kb.advisories))
	for _, a := range kb.advisories {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Snapshot is the whole knowledge base as plain data, for persistence.
type Snapshot struct {
	V          int                   `json:"v"`
	Vulns      []Vulnerability       `json:"vulns"`
	Statements map[string][]Affected `json:"statements"`
	Advisories []Advisory            `json:"advisories"`
	KEV        map[string]KEV        `json:"kev"`
	KEVCatalog string                `json:"kev_catalog,omitempty"`
	EPSS       map[string]EPSS       `json:"epss"`
	EOL        []EOLProduct          `json:"eol"`
	SBOMs      []SBOM                `json:"sboms"`
	Decisions  []Decision            `json:"decisions"`
}

// Snapshot copies the knowledge base out.
func (kb *KB) Snapshot() Snapshot {
	kb.mu.RLock()
	defer kb.mu.RUnlock()
	s := Snapshot{V: 1, Statements: map[string][]Affected{}, KEV: kb.kev, KEVCatalog: kb.kevCatalog, EPSS: kb.epss}
	for _, id := range sortedKeys(kb.vulns) {
		v := *kb.vulns[id]
		v.KEV, v.EPSS = nil, nil // joined again on restore
		s.Vulns = append(s.Vulns, v)
	}
	for k, v := range kb.bySource {
		s.Statements[k] = v
	}
	for _, id := range sortedKeys(kb.advisories) {
		s.Advisories = append(s.Advisories, kb.advisories[id])
	}
	for _, id := range sortedKeys(kb.eol) {
		s.EOL = append(s.EOL, kb.eol[id])
	}
	for _, id := range sortedKeys(kb.sboms) {
		s.SBOMs = append(s.SBOMs, kb.sboms[id]...)
	}
	for _, id := range sortedKeys(kb.decisions) {
		s.Decisions = append(s.Decisions, kb.decisions[id])
	}
	return s
}

// Restore builds a knowledge base from a snapshot.
func Restore(s Snapshot) *KB {
	kb := NewKB()
	if s.KEV != nil {
		kb.kev = s.KEV
	}
	kb.kevCatalog = s.KEVCatalog
	if s.EPSS != nil {
		kb.epss = s.EPSS
	}
	for i := range s.Vulns {
		kb.mergeVuln(&s.Vulns[i])
	}
	for k, v := range s.Statements {
		kb.bySource[k] = v
	}
	for _, a := range s.Advisories {
		kb.advisories[a.ID] = a
	}
	for _, p := range s.EOL {
		kb.eol[p.Slug] = p
	}
	for _, sb := range s.SBOMs {
		kb.sboms[sb.ModelKey] = append(kb.sboms[sb.ModelKey], sb)
	}
	for _, d := range s.Decisions {
		kb.decisions[d.Key()] = d
	}
	return kb
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
