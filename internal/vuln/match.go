package vuln

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/package-url/packageurl-go"

	"github.com/heir-emd/heir/internal/vuln/cpe"
	"github.com/heir-emd/heir/internal/vuln/version"
)

// Match is one vulnerability found on one device, with why.
type Match struct {
	CVE string `json:"cve"`
	// Product is the stable key of what matched ("csaf:bd/alaris_pc_unit",
	// "cpe:jquery/jquery", "purl:nuget/newtonsoft.json"): with the device
	// (or model) and CVE it keys analysts' decisions.
	Product    string     `json:"product"`
	Status     string     `json:"status"` // affected, under_investigation
	Confidence float64    `json:"confidence"`
	Evidence   []Evidence `json:"evidence"`
	// What RAMA needs, joined from the knowledge base.
	CVSS        float64 `json:"cvss,omitempty"`
	CVSSVector  string  `json:"cvss_vector,omitempty"`
	EPSS        *EPSS   `json:"epss,omitempty"`
	KEV         bool    `json:"kev"`
	Ransomware  bool    `json:"ransomware,omitempty"` // KEV notes known ransomware use
	Remediation string  `json:"remediation,omitempty"`
	// Suppressed is set when a VEX or CSAF known_not_affected statement
	// covers the match; Decision when an analyst decided on it.
	Suppressed *Suppression `json:"suppressed,omitempty"`
	Decision   *Decision    `json:"decision,omitempty"`
}

// Active says whether the match counts: not suppressed and not declared a
// false positive.
func (m *Match) Active() bool {
	return m.Suppressed == nil && (m.Decision == nil || m.Decision.State != DecisionFalsePositive)
}

// Evidence says which statement matched which device field, by which
// rules.
type Evidence struct {
	Source      string  `json:"source"` // csaf:ICSMA-…, nvd:…, vex:…
	ProductID   string  `json:"product_id,omitempty"`
	ProductName string  `json:"product_name,omitempty"`
	CPE         string  `json:"cpe,omitempty"`
	Rule        string  `json:"rule"`       // the version rule as written
	RuleField   string  `json:"rule_field"` // where the rule came from
	Target      string  `json:"target"`     // device field: model, os, software[2], sbom:<ref>
	DeviceValue string  `json:"device_value"`
	How         string  `json:"how"`
	Verdict     string  `json:"verdict"` // in, unknown
	Confidence  float64 `json:"confidence"`
}

// Suppression is the statement that a matched product is not affected.
type Suppression struct {
	Source        string `json:"source"`
	Justification string `json:"justification,omitempty"`
	Detail        string `json:"detail,omitempty"`
}

// EOLFlag says that a device runs a release past (or near) its end of
// life.
type EOLFlag struct {
	Target      string    `json:"target"` // os, firmware, software[i]
	Value       string    `json:"value"`
	Product     string    `json:"product"` // endoflife.date slug
	Title       string    `json:"title"`
	Cycle       string    `json:"cycle"`
	Label       string    `json:"label,omitempty"`
	EOL         time.Time `json:"eol,omitzero"`
	Unsupported bool      `json:"unsupported"`
	How         string    `json:"how"`
}

// DeviceResult is everything matching found for one device. Devices with
// the same inputs (a fleet of one model, firmware and OS) share one
// Matches slice: treat it as read-only.
type DeviceResult struct {
	Device  string    `json:"device"`
	Matches []Match   `json:"matches"`
	EOL     []EOLFlag `json:"eol,omitempty"`
}

// MatchOptions tunes matching.
type MatchOptions struct {
	// AsOf is the date end-of-life is judged on (default: now).
	AsOf time.Time
	// MinConfidence drops weaker matches (default 0.3).
	MinConfidence float64
	// NoCache disables the per-call cache of results by target (devices
	// of one model share their targets); for measuring the index alone.
	NoCache bool
}

// Matcher matches devices against a snapshot of the knowledge: its
// statements indexed by normalised vendor and product, package URL, and
// CVE (for suppressions). Build it once per knowledge snapshot; Match is
// safe for concurrent use.
type Matcher struct {
	norm      *Normaliser
	know      Knowledge
	byKey     map[vpKey][]*rule  // vendor key, product key
	byVendor  map[string][]*rule // vendorKey → CSAF statements (token matching)
	byProduct map[string][]*rule // productKey → CPE statements (vendor unknown on the device)
	byPURL    map[string][]*rule // purl type/namespace/name
	wild      []*rule            // CPE criteria with a wildcard vendor or product
	notAff    map[string][]*rule // CVE → not-affected statements
	infoMu    sync.Mutex
	info      map[string]vulnInfo
	eol       []EOLProduct
	decisions map[string]Decision
	// deviceDecided says which device ids have decisions of their own.
	deviceDecided map[string]bool
	// Statements counts what was indexed.
	Statements int
}

// vpKey indexes statements by normalised vendor and product.
type vpKey struct{ vendor, product string }

type rule struct {
	once     sync.Once
	info     vulnInfo // the CVE's facts, looked up in prepare
	a        *Affected
	set      version.Set
	name     cpe.Name // parsed CPE criteria, zero when none
	platform []cpe.Name
	tokens   []string
	purlKey  string
	key      string // decision product key
}

type vulnInfo struct {
	cvss       float64
	vector     string
	epss       *EPSS
	kev        bool
	ransomware bool
}

// NewMatcher indexes the knowledge.
func NewMatcher(ctx context.Context, know Knowledge, norm *Normaliser) (*Matcher, error) {
	m := &Matcher{norm: norm, know: know, byKey: map[vpKey][]*rule{}, byVendor: map[string][]*rule{},
		byProduct: map[string][]*rule{}, byPURL: map[string][]*rule{}, notAff: map[string][]*rule{},
		info: map[string]vulnInfo{}, decisions: map[string]Decision{}, deviceDecided: map[string]bool{}}
	var err error
	n := 0
	know.Affected(func(a *Affected) bool {
		n++
		if n%4096 == 0 && ctx.Err() != nil {
			err = ctx.Err()
			return false
		}
		// Parsing the CPE and compiling the version rule wait until a
		// device reaches the statement: most of NVD's are about products
		// no hospital device has.
		r := &rule{a: a}
		if a.PURL != "" {
			r.purlKey = purlKey(a.PURL)
		}
		r.key = productKey(a, r)
		if a.Status == StatusNotAffected {
			m.notAff[a.CVE] = append(m.notAff[a.CVE], r)
			return true
		}
		if a.Status == StatusFixed {
			// A fixed statement says which versions are not affected; the
			// affected statements of the same advisory carry the rule.
			return true
		}
		m.Statements++
		switch {
		case r.purlKey != "":
			m.byPURL[r.purlKey] = append(m.byPURL[r.purlKey], r)
		case a.CPE != "" && (a.VendorKey == "" || a.ProductKey == "" || strings.ContainsAny(a.Vendor+a.Product, "*?")):
			m.wild = append(m.wild, r)
		case a.CPE != "":
			k := vpKey{a.VendorKey, a.ProductKey}
			m.byKey[k] = append(m.byKey[k], r)
			m.byProduct[a.ProductKey] = append(m.byProduct[a.ProductKey], r)
		default:
			k := vpKey{a.VendorKey, a.ProductKey}
			m.byKey[k] = append(m.byKey[k], r)
			r.tokens = strings.Split(a.ProductKey, "_")
			m.byVendor[a.VendorKey] = append(m.byVendor[a.VendorKey], r)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("index knowledge: %w", err)
	}
	m.eol = know.EOL()
	for _, d := range know.Decisions() {
		m.decisions[d.Key()] = d
		if !strings.HasPrefix(d.Subject, "model:") {
			m.deviceDecided[d.Subject] = true
		}
	}
	return m, nil
}

func (m *Matcher) vulnInfo(id string) vulnInfo {
	v, ok := m.know.Vulnerability(id)
	if !ok {
		return vulnInfo{}
	}
	in := vulnInfo{kev: v.KEV != nil, epss: v.EPSS, ransomware: v.KEV != nil && v.KEV.Ransomware == "Known"}
	if c, ok := v.BestCVSS(); ok {
		in.cvss, in.vector = c.BaseScore, c.Vector
	}
	return in
}

// prepare parses what matching needs of a statement, once.
func (m *Matcher) prepare(r *rule) *rule {
	r.once.Do(func() {
		r.info = m.infoFor(r.a.CVE)
		r.set = r.a.Versions.Compile()
		if r.a.CPE != "" {
			if name, err := cpe.Parse(r.a.CPE); err == nil {
				r.name = name
			}
		}
		for _, p := range r.a.Platform {
			if name, err := cpe.Parse(p); err == nil {
				r.platform = append(r.platform, name)
			}
		}
	})
	return r
}

// infoFor returns what RAMA needs of a CVE, looked up once.
func (m *Matcher) infoFor(id string) vulnInfo {
	m.infoMu.Lock()
	defer m.infoMu.Unlock()
	in, ok := m.info[id]
	if !ok {
		in = m.vulnInfo(id)
		m.info[id] = in
	}
	return in
}

// productKey is the stable product part of a decision key.
func productKey(a *Affected, r *rule) string {
	switch {
	case r.purlKey != "":
		return "purl:" + r.purlKey
	case a.CPE != "":
		return "cpe:" + a.VendorKey + "/" + a.ProductKey
	}
	return "csaf:" + a.VendorKey + "/" + a.ProductKey
}

// purlKey is type/namespace/name, lower-cased where the type is case-
// insensitive (most are), without version, qualifiers or subpath.
func purlKey(s string) string {
	p, err := packageurl.FromString(s)
	if err != nil {
		return ""
	}
	ns, name := p.Namespace, p.Name
	switch p.Type {
	case "pypi":
		name = strings.ReplaceAll(strings.ToLower(name), "_", "-")
		ns = strings.ToLower(ns)
	case "golang", "maven":
		// case-sensitive names (Go module paths are lower-case anyway).
	default:
		ns, name = strings.ToLower(ns), strings.ToLower(name)
	}
	if ns != "" {
		return p.Type + "/" + ns + "/" + name
	}
	return p.Type + "/" + name
}

// target is one thing on a device matching looks up: the model with its
// firmware, the OS, a software component, an SBOM component.
type target struct {
	field      string // model, os, software[i], sbom:<ref>
	value      string // what the device said, for evidence
	vendorKey  string
	productKey string
	tokens     []string
	version    version.Version
	versionRaw string
	name       cpe.Name // device's own CPE, or one derived
	purlKey    string
	isModel    bool
}

// Match matches devices. Results come in the devices' order.
func (m *Matcher) Match(ctx context.Context, devices []Device, opt MatchOptions) ([]DeviceResult, error) {
	out := make([]DeviceResult, 0, len(devices))
	err := m.MatchEach(ctx, devices, opt, func(r DeviceResult) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// MatchEach matches devices and hands each result to fn, in the devices'
// order, without keeping them: for inventories whose results do not fit
// in memory at once. An error from fn stops matching and is returned.
func (m *Matcher) MatchEach(ctx context.Context, devices []Device, opt MatchOptions, fn func(DeviceResult) error) error {
	if opt.AsOf.IsZero() {
		opt.AsOf = time.Now().UTC()
	}
	if opt.MinConfidence == 0 {
		opt.MinConfidence = 0.3
	}
	mc := &matchCache{targets: map[string][]cand{}, devices: map[string]DeviceResult{}}
	for i := range devices {
		if i%1024 == 0 && ctx.Err() != nil {
			return fmt.Errorf("match: %w", ctx.Err())
		}
		if err := fn(m.matchDevice(&devices[i], opt, mc)); err != nil {
			return err
		}
	}
	return nil
}

// matchCache holds, for one MatchEach call, the candidates of each target
// and the result of each distinct device input. Both are bounded; when
// full, further entries are computed and not kept.
type matchCache struct {
	targets map[string][]cand
	devices map[string]DeviceResult
	buf     []byte
}

// deviceSignature is every input of a device but its id and name.
func deviceSignature(d *Device, b []byte) string {
	for _, s := range [...]string{d.Vendor, d.Model, d.Firmware, d.OS} {
		b = append(b, s...)
		b = append(b, 0)
	}
	for i := range d.Software {
		c := &d.Software[i]
		for _, s := range [...]string{c.Type, c.Vendor, c.Name, c.Version, c.CPE, c.PURL, c.BOMRef} {
			b = append(b, s...)
			b = append(b, 1)
		}
		b = append(b, 2)
	}
	return string(b)
}

const (
	maxCachedTargets = 1 << 20
	maxCachedDevices = 1 << 17
)

// cand is a statement that matched a target, before joining.
type cand struct {
	r    *rule
	conf float64
	how  string
	ver  version.Verdict
}

func (m *Matcher) matchDevice(d *Device, opt MatchOptions, mc *matchCache) DeviceResult {
	var sig string
	if !opt.NoCache {
		// Devices of a fleet have the same inputs: their result is
		// computed once. The signature is the raw input, so that a hit
		// costs no normalisation or parsing.
		sig = deviceSignature(d, mc.buf[:0])
		if r, ok := mc.devices[sig]; ok {
			r.Device = d.ID
			return m.withDeviceDecisions(r, d.ID)
		}
	}
	targets := m.targets(d)
	modelKey := m.norm.ModelKey(d.Vendor, d.Model)
	res := DeviceResult{}
	byKey := map[[2]string]int{} // CVE, product key → index in res.Matches
	for ti := range targets {
		t := &targets[ti]
		var cs []cand
		if opt.NoCache {
			cs = m.candidates(t)
		} else {
			ck := t.cacheKey()
			var ok bool
			if cs, ok = mc.targets[ck]; !ok {
				cs = m.candidates(t)
				if len(mc.targets) < maxCachedTargets {
					mc.targets[ck] = cs
				}
			}
		}
		for _, c := range cs {
			if c.conf < opt.MinConfidence {
				continue
			}
			a := c.r.a
			ev := Evidence{Source: a.Source, ProductID: a.ProductID, ProductName: a.ProductName, CPE: a.CPE,
				Rule: a.Versions.Raw, RuleField: a.VersionField, Target: t.field, DeviceValue: t.value,
				How: c.how, Verdict: c.ver.String(), Confidence: round2(c.conf)}
			k := [2]string{a.CVE, c.r.key}
			if idx, ok := byKey[k]; ok {
				mt := &res.Matches[idx]
				if len(mt.Evidence) < 8 {
					mt.Evidence = append(mt.Evidence, ev)
				}
				if c.conf > mt.Confidence {
					mt.Confidence = round2(c.conf)
					mt.Status = a.Status
				}
				if mt.Remediation == "" {
					mt.Remediation = a.Remediation
				}
				continue
			}
			in := c.r.info
			mt := Match{CVE: a.CVE, Product: c.r.key, Status: a.Status, Confidence: round2(c.conf),
				Evidence: []Evidence{ev}, CVSS: in.cvss, CVSSVector: in.vector, EPSS: in.epss, KEV: in.kev, Ransomware: in.ransomware, Remediation: a.Remediation}
			mt.Suppressed = m.suppressed(a, t, modelKey, d.Firmware)
			if dec, ok := m.decisions[Decision{Subject: "model:" + modelKey, CVE: a.CVE, Product: c.r.key}.Key()]; ok {
				mt.Decision = &dec
			}
			byKey[k] = len(res.Matches)
			res.Matches = append(res.Matches, mt)
		}
	}
	sort.SliceStable(res.Matches, func(i, j int) bool {
		if res.Matches[i].CVE != res.Matches[j].CVE {
			return res.Matches[i].CVE < res.Matches[j].CVE
		}
		return res.Matches[i].Product < res.Matches[j].Product
	})
	res.EOL = m.eolFlags(d, opt.AsOf)
	if !opt.NoCache && len(mc.devices) < maxCachedDevices {
		mc.devices[sig] = res
	}
	res.Device = d.ID
	return m.withDeviceDecisions(res, d.ID)
}

// withDeviceDecisions applies decisions made for one device (rather than
// its model), copying the shared matches only when there are some.
func (m *Matcher) withDeviceDecisions(r DeviceResult, id string) DeviceResult {
	if !m.deviceDecided[id] {
		return r
	}
	ms := make([]Match, len(r.Matches))
	copy(ms, r.Matches)
	for i := range ms {
		if dec, ok := m.decisions[Decision{Subject: id, CVE: ms[i].CVE, Product: ms[i].Product}.Key()]; ok {
			ms[i].Decision = &dec
		}
	}
	r.Matches = ms
	return r
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

func (t *target) cacheKey() string {
	return t.field[:min(len(t.field), 3)] + "\x00" + t.vendorKey + "\x00" + t.productKey + "\x00" + t.versionRaw + "\x00" + t.name.String() + "\x00" + t.purlKey
}

// targets lists what a device offers to match.
func (m *Matcher) targets(d *Device) []target {
	var ts []target
	if d.Model != "" || d.Vendor != "" {
		vk := m.norm.Vendor(d.Vendor)
		pk := m.norm.Product(vk, d.Model)
		t := target{field: "model", value: strings.TrimSpace(d.Vendor + " " + d.Model + " " + d.Firmware), vendorKey: vk,
			productKey: pk, versionRaw: d.Firmware, version: version.Parse(d.Firmware), isModel: true}
		if d.Model != "" {
			t.tokens = strings.Split(pk, "_")
		}
		ts = append(ts, t)
		for _, s := range m.know.SBOMs(m.norm.ModelKey(d.Vendor, d.Model)) {
			for i, c := range s.Components {
				ref := c.BOMRef
				if ref == "" {
					ref = fmt.Sprint(i)
				}
				ts = append(ts, m.componentTarget("sbom:"+ref, c))
			}
		}
	}
	if d.OS != "" {
		ts = append(ts, m.osTarget(d.OS))
	}
	for i, c := range d.Software {
		ts = append(ts, m.componentTarget(fmt.Sprintf("software[%d]", i), c))
	}
	return ts
}

func (m *Matcher) componentTarget(field string, c Component) target {
	t := target{field: field, versionRaw: c.Version}
	t.value = strings.TrimSpace(strings.Join([]string{c.Vendor, c.Name, c.Version}, " "))
	if c.CPE != "" {
		if n, err := cpe.Parse(c.CPE); err == nil {
			t.name = n
			t.vendorKey = m.norm.Vendor(n.Get(cpe.Vendor))
			t.productKey = m.norm.Product(t.vendorKey, n.Get(cpe.Product))
			if t.versionRaw == "" {
				if v := n.Get(cpe.Version); v != "-" {
					t.versionRaw = v
				}
			}
			t.value += " (" + c.CPE + ")"
		}
	}
	if c.PURL != "" {
		t.purlKey = purlKey(c.PURL)
		if p, err := packageurl.FromString(c.PURL); err == nil && t.versionRaw == "" {
			t.versionRaw = p.Version
		}
	}
	if t.vendorKey == "" && t.productKey == "" {
		vendor, name := c.Vendor, c.Name
		if name == "" {
			name = c.Name
		}
		if vendor != "" {
			t.vendorKey = m.norm.Vendor(vendor)
		}
		t.productKey = m.norm.Product(t.vendorKey, name)
	}
	t.version = version.Parse(t.versionRaw)
	return t
}

// osTarget reads an operating-system string into a CPE-like target:
// "Windows 7 Professional SP1" → microsoft / windows_7, update sp1;
// "Linux 6.18.44-fc" → linux / linux_kernel 6.18.44.
func (m *Matcher) osTarget(os string) target {
	t := target{field: "os", value: os}
	low := strings.ToLower(os)
	f := strings.Fields(strings.NewReplacer("microsoft", " ", "(r)", " ", "®", " ").Replace(low))
	switch {
	case strings.Contains(low, "windows"):
		t.vendorKey = "microsoft"
	words:
		for i, w := range f {
			if w == "windows" && i+1 < len(f) {
				next := f[i+1]
				switch next {
				case "server":
					if i+2 < len(f) {
						t.productKey = "windows_server_" + f[i+2]
					}
				default:
					t.productKey = "windows_" + next
				}
				break words
			}
		}
		for _, w := range f {
			if strings.HasPrefix(w, "sp") && len(w) > 2 && w[2] >= '0' && w[2] <= '9' {
				t.versionRaw = w
			}
		}
		if t.productKey != "" {
			upd := t.versionRaw
			if upd == "" {
				upd = cpe.Any
			}
			t.name = cpe.New("o", "microsoft", t.productKey, cpe.NA)
			t.name = withUpdate(t.name, upd)
		}
	case strings.Contains(low, "linux"):
		t.vendorKey, t.productKey = "linux", "linux_kernel"
		for _, w := range f {
			if w != "" && w[0] >= '0' && w[0] <= '9' {
				t.versionRaw = strings.SplitN(w, "-", 2)[0]
				break
			}
		}
		t.name = cpe.New("o", "linux", "linux_kernel", "")
	default:
		vk := ""
		if len(f) > 0 {
			vk = m.norm.Vendor(f[0])
		}
		t.vendorKey, t.productKey = vk, m.norm.Product(vk, os)
	}
	t.version = version.Parse(t.versionRaw)
	return t
}

func withUpdate(n cpe.Name, update string) cpe.Name {
	s := n.String()
	parts := strings.Split(s, ":")
	if len(parts) == 13 {
		parts[6] = update
		if out, err := cpe.Parse(strings.Join(parts, ":")); err == nil {
			return out
		}
	}
	return n
}

// candidates finds the statements that match one target, with the
// confidence of each: how sure the product identification is, times how
// sure the version verdict is.
func (m *Matcher) candidates(t *target) []cand {
	var out []cand
	// A statement is reached through one list only: byKey holds it under
	// its own keys, byVendor is walked for the other products of the
	// vendor, byProduct only when the target has no vendor (byKey then
	// holds nothing under an empty vendor with a CPE), wild and byPURL
	// hold statements no other list does.
	consider := func(r *rule, base float64, how string) {
		m.prepare(r)
		conf := base
		if !r.name.IsZero() && !t.name.IsZero() {
			// Vendor and product already matched through the alias
			// table; the version is compared as a range below.
			ok, loose := cpe.Matches(r.name, t.name, cpe.Vendor, cpe.Product, cpe.Version)
			if !ok {
				// Same vendor and product, another part or platform
				// (an application CPE against an OS, say).
				return
			}
			if len(loose) > 0 {
				conf *= 0.8
				how += "; device does not say its " + strings.Join(loose, ", ")
			}
		}
		if len(r.platform) > 0 {
			conf *= 0.8
			how += "; needs platform " + r.a.Platform[0] + " (not checked)"
		}
		ver := r.set.Contains(t.version)
		switch {
		case ver == version.Out:
			return
		case ver == version.In && r.set.All():
			how += "; every version affected"
		case ver == version.In:
			how += "; version " + t.versionRaw + " in \"" + r.a.Versions.Raw + "\""
		case !r.set.Readable():
			conf *= 0.5
			how += "; version rule \"" + r.a.Versions.Raw + "\" not machine-readable"
		default:
			conf *= 0.5
			how += "; device version unknown, rule \"" + r.a.Versions.Raw + "\""
		}
		if r.a.Status == StatusUnderInvestigation {
			conf *= 0.5
			how += "; vendor still investigating"
		}
		out = append(out, cand{r: r, conf: conf, how: how, ver: ver})
	}
	if t.purlKey != "" {
		for _, r := range m.byPURL[t.purlKey] {
			consider(r, 0.95, "package URL "+t.purlKey)
		}
	}
	if t.productKey != "" {
		keyHow := "vendor " + t.vendorKey + " and product " + t.productKey + " equal"
		for _, r := range m.byKey[vpKey{t.vendorKey, t.productKey}] {
			base, how := 0.9, keyHow
			if r.name.IsZero() {
				base = 0.85 // an advisory's product name, not a CPE
			}
			consider(r, base, how)
		}
		if t.vendorKey == "" {
			// A component without vendor (a package name, a banner):
			// products of that name from any vendor, less sure.
			for _, r := range m.byProduct[t.productKey] {
				if len(t.productKey) >= 4 {
					consider(r, 0.6, fmt.Sprintf("product %s equal, vendor unknown on the device", t.productKey))
				}
			}
		}
	}
	if t.isModel && len(t.tokens) > 0 {
		for _, r := range m.byVendor[t.vendorKey] {
			if r.a.ProductKey == t.productKey {
				continue // already considered through byKey
			}
			if rel, shared := tokenRelation(r.tokens, t.tokens); rel > 0 {
				base, how := 0.0, ""
				switch rel {
				case relRuleInDevice:
					base, how = 0.7, fmt.Sprintf("vendor %s; advisory product %q within device model (%s)", t.vendorKey, strings.Join(r.tokens, " "), shared)
				case relDeviceInRule:
					base, how = 0.6, fmt.Sprintf("vendor %s; device model within advisory product %q (%s)", t.vendorKey, strings.Join(r.tokens, " "), shared)
				}
				consider(r, base, how)
			}
		}
	}
	if !t.name.IsZero() {
		for _, r := range m.wild {
			if ok, _ := cpe.Matches(m.prepare(r).name, t.name, cpe.Version); ok {
				consider(r, 0.7, "CPE pattern "+r.a.CPE)
			}
		}
	}
	return out
}

const (
	relNone = iota
	relRuleInDevice
	relDeviceInRule
)

// genericWords do not identify a product on their own.
var genericWords = map[string]bool{
	"pump": true, "pumps": true, "monitor": true, "monitors": true, "system": true, "systems": true, "software": true,
	"server": true, "station": true, "unit": true, "module": true, "device": true, "devices": true, "application": true,
	"app": true, "version": true, "versions": true, "with": true, "and": true, "for": true, "of": true, "pc": true,
	"workstation": true, "central": true, "web": true, "all": true, "series": true, "family": true, "infusion": true,
	"patient": true, "medical": true, "wireless": true, "network": true, "firmware": true,
}

// tokenRelation compares an advisory product's words with a device
// model's: one contained in the other, sharing a distinctive word (one
// with a digit, or of four letters or more that is not generic).
func tokenRelation(rule, dev []string) (int, string) {
	if len(rule) == 0 || len(dev) == 0 {
		return relNone, ""
	}
	in := func(small, big []string) bool {
		for _, s := range small {
			found := false
			for _, b := range big {
				if s == b {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	distinctive, digit := "", false
	for _, s := range rule {
		if genericWords[s] {
			continue
		}
		if hasDigitStr(s) || len(s) >= 4 {
			for _, d := range dev {
				if d == s {
					distinctive = s
					digit = digit || hasDigitStr(s)
				}
			}
		}
	}
	if distinctive == "" {
		return relNone, ""
	}
	// One shared word without a digit ("alaris") is a product family,
	// not a product: the smaller side must say more.
	specific := func(small []string) bool {
		if digit {
			return true
		}
		n := 0
		for _, s := range small {
			if !genericWords[s] {
				n++
			}
		}
		return n >= 2
	}
	switch {
	case in(rule, dev) && specific(rule):
		return relRuleInDevice, "shared word " + distinctive
	case in(dev, rule) && specific(dev):
		return relDeviceInRule, "shared word " + distinctive
	}
	return relNone, ""
}

func hasDigitStr(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return true
		}
	}
	return false
}

// suppressed finds a not-affected statement for the matched statement's
// CVE that covers the match: one about the device model (its firmware in
// the statement's range), about the same product as the matched statement
// or as the target, or about the same package URL (the target's version
// in range).
func (m *Matcher) suppressed(matched *Affected, t *target, modelKey, firmware string) *Suppression {
	for _, r := range m.notAff[matched.CVE] {
		m.prepare(r)
		a := r.a
		ver := t.version
		hit := false
		switch {
		case a.ProductKey != "" && a.VendorKey+"/"+a.ProductKey == modelKey:
			// About the device model: every match of that model is
			// covered, whichever component it came through, for the
			// firmware versions the statement names.
			hit, ver = true, version.Parse(firmware)
		case r.purlKey != "" && r.purlKey == t.purlKey:
			hit = true
		case a.ProductKey != "" && a.VendorKey == matched.VendorKey && a.ProductKey == matched.ProductKey:
			hit = true
		case a.ProductKey != "" && a.VendorKey == t.vendorKey && a.ProductKey == t.productKey:
			hit = true
		}
		if !hit {
			continue
		}
		if v := r.set.Contains(ver); v == version.Out {
			continue
		}
		return &Suppression{Source: a.Source, Justification: a.Justification, Detail: a.Detail}
	}
	return nil
}
