package rama

import (
	"bytes"
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the shipped configuration file, comments included:
// the starting point for a site's own.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// maxConfigBytes bounds a config file: the shipped one is 6 kB, and the
// parser builds a tree of the whole input.
const maxConfigBytes = 1 << 20

// Config holds every weight and parameter of the score. docs/rama.md and
// default.yaml document each key.
type Config struct {
	Version         int                      `yaml:"version"`
	Bands           BandsConfig              `yaml:"bands"`
	MaxPart         float64                  `yaml:"max_part"`
	Status          map[Status]float64       `yaml:"status"`
	Vulnerabilities VulnerabilitiesConfig    `yaml:"vulnerabilities"`
	Findings        FindingsConfig           `yaml:"findings"`
	EOL             EOLConfig                `yaml:"eol"`
	Alerts          AlertsConfig             `yaml:"alerts"`
	Exposure        ExposureConfig           `yaml:"exposure"`
	Impact          ImpactConfig             `yaml:"impact"`
	Controls        map[string]ControlConfig `yaml:"controls"`
	Hospital        HospitalConfig           `yaml:"hospital"`
}

// BandsConfig holds the lower bounds of the Medium, High and Critical bands.
type BandsConfig struct {
	Medium   float64 `yaml:"medium"`
	High     float64 `yaml:"high"`
	Critical float64 `yaml:"critical"`
}

// VulnerabilitiesConfig weighs matched vulnerabilities.
type VulnerabilitiesConfig struct {
	Weight          float64 `yaml:"weight"`
	KEVExploit      float64 `yaml:"kev_exploit"`
	DefaultEPSS     float64 `yaml:"default_epss"`
	DefaultCVSS     float64 `yaml:"default_cvss"`
	KEVFloor        float64 `yaml:"kev_floor"`
	Repeat          float64 `yaml:"repeat"`
	ENISA           []int   `yaml:"enisa"`
	RansomwareENISA []int   `yaml:"ransomware_enisa"`
}

// Part is the weight of one kind of input and its ENISA threat categories
// (ENISA Threat Landscape 2018, numbered 1–15; empty: unclassified).
type Part struct {
	Weight *float64 `yaml:"weight"`
	ENISA  []int    `yaml:"enisa"`
}

// FindingsConfig weighs the sensor's findings by kind and severity.
type FindingsConfig struct {
	Repeat   float64            `yaml:"repeat"`
	Severity map[string]float64 `yaml:"severity"`
	Kinds    map[string]Part    `yaml:"kinds"`
	Other    Part               `yaml:"other"`
}

// EOLConfig weighs end-of-life components.
type EOLConfig struct {
	AtEOL     float64 `yaml:"at_eol"`
	Max       float64 `yaml:"max"`
	RampYears float64 `yaml:"ramp_years"`
	Repeat    float64 `yaml:"repeat"`
	ENISA     []int   `yaml:"enisa"`
}

// AlertsConfig weighs recent alerts, decaying with their age.
type AlertsConfig struct {
	HalfLife       Duration              `yaml:"half_life"`
	Horizon        Duration              `yaml:"horizon"`
	SourceFloor    float64               `yaml:"source_floor"`
	SourceFloorAge Duration              `yaml:"source_floor_age"`
	Repeat         float64               `yaml:"repeat"`
	Severity       map[string]float64    `yaml:"severity"`
	Direction      map[Direction]float64 `yaml:"direction"`
	Categories     map[string]Part       `yaml:"categories"`
	Other          Part                  `yaml:"other"`
}

// Duration is a duration in Go syntax ("168h", "90m"). It is kept as text
// so that a bad one is reported with its key like every other value.
type Duration string

// Parse returns the duration.
func (d Duration) Parse() (time.Duration, error) { return time.ParseDuration(string(d)) }

// ExposureConfig weighs how reachable a device is.
type ExposureConfig struct {
	Internet    Part        `yaml:"internet"`
	FlatNetwork Part        `yaml:"flat_network"`
	Peers       PeersConfig `yaml:"peers"`
}

// PeersConfig weighs the number of peers on a log scale.
type PeersConfig struct {
	Weight     *float64 `yaml:"weight"`
	Saturation int      `yaml:"saturation"`
	ENISA      []int    `yaml:"enisa"`
}

// ImpactConfig sets what a compromise costs by clinical function and
// patient data.
type ImpactConfig struct {
	Functions       map[Function]float64  `yaml:"functions"`
	PHI             float64               `yaml:"phi"`
	DefaultFunction Function              `yaml:"default_function"`
	Roles           map[string]RoleImpact `yaml:"roles"`
}

// RoleImpact maps an inventory role to its clinical function and says
// whether devices of the role handle patient data.
type RoleImpact struct {
	Function Function `yaml:"function"`
	PHI      *bool    `yaml:"phi"`
}

// ControlConfig is a compensating control's effect on each group of
// likelihood parts.
type ControlConfig struct {
	Vulnerabilities float64 `yaml:"vulnerabilities"`
	Findings        float64 `yaml:"findings"`
	EOL             float64 `yaml:"eol"`
	Alerts          float64 `yaml:"alerts"`
	Exposure        float64 `yaml:"exposure"`
	NetworkOnly     bool    `yaml:"network_only"`
}

// HospitalConfig sets the Local RAMA roll-up.
type HospitalConfig struct {
	TopK            int     `yaml:"top_k"`
	ShareWeight     float64 `yaml:"share_weight"`
	ShareSaturation float64 `yaml:"share_saturation"`
}

// shipped parses the embedded defaults once (a few milliseconds); callers
// get deep copies, so the parsed value never changes.
var shipped = sync.OnceValue(func() *Config {
	var c Config
	if err := yaml.UnmarshalWithOptions(defaultYAML, &c, yaml.DisallowUnknownField()); err != nil {
		// The embedded file is tested; reaching this is a build defect.
		panic(fmt.Sprintf("rama: shipped default.yaml does not parse: %v", err))
	}
	return &c
})

// DefaultConfig returns the shipped configuration. Each call returns a
// fresh copy that the caller may change.
func DefaultConfig() *Config { return shipped().Clone() }

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	o := *c
	o.Status = maps.Clone(c.Status)
	o.Vulnerabilities.ENISA = slices.Clone(c.Vulnerabilities.ENISA)
	o.Vulnerabilities.RansomwareENISA = slices.Clone(c.Vulnerabilities.RansomwareENISA)
	o.Findings.Severity = maps.Clone(c.Findings.Severity)
	o.Findings.Kinds = cloneParts(c.Findings.Kinds)
	o.Findings.Other = c.Findings.Other.clone()
	o.EOL.ENISA = slices.Clone(c.EOL.ENISA)
	o.Alerts.Severity = maps.Clone(c.Alerts.Severity)
	o.Alerts.Direction = maps.Clone(c.Alerts.Direction)
	o.Alerts.Categories = cloneParts(c.Alerts.Categories)
	o.Alerts.Other = c.Alerts.Other.clone()
	o.Exposure.Internet = c.Exposure.Internet.clone()
	o.Exposure.FlatNetwork = c.Exposure.FlatNetwork.clone()
	o.Exposure.Peers.Weight = clonePtr(c.Exposure.Peers.Weight)
	o.Exposure.Peers.ENISA = slices.Clone(c.Exposure.Peers.ENISA)
	o.Impact.Functions = maps.Clone(c.Impact.Functions)
	if c.Impact.Roles != nil {
		o.Impact.Roles = make(map[string]RoleImpact, len(c.Impact.Roles))
		for k, r := range c.Impact.Roles {
			o.Impact.Roles[k] = RoleImpact{Function: r.Function, PHI: clonePtr(r.PHI)}
		}
	}
	o.Controls = maps.Clone(c.Controls)
	return &o
}

func (p Part) clone() Part { return Part{Weight: clonePtr(p.Weight), ENISA: slices.Clone(p.ENISA)} }

func cloneParts(m map[string]Part) map[string]Part {
	if m == nil {
		return nil
	}
	o := make(map[string]Part, len(m))
	for k, p := range m {
		o[k] = p.clone()
	}
	return o
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// LoadConfig reads a config file: the shipped defaults with the file's
// keys laid over them, validated.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rama config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("rama config %s: %w", path, err)
	}
	return ParseConfig(path, data)
}

// ParseConfig lays data (YAML) over the shipped defaults and validates the
// result. name labels errors. Unknown keys, values of the wrong type and
// values out of range are refused, each with its key and line.
func ParseConfig(name string, data []byte) (*Config, error) {
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("rama config %s: larger than %d bytes", name, maxConfigBytes)
	}
	if err := checkYAML(data); err != nil {
		return nil, fmt.Errorf("rama config %s: %w", name, err)
	}
	c := DefaultConfig()
	def := shipped().Clone() // entries are copied into c, which the caller owns
	if len(bytes.TrimSpace(data)) > 0 {
		if err := decodeYAML(data, c); err != nil {
			return nil, fmt.Errorf("rama config %s: %s", name, decodeMessage(data, err))
		}
	}
	// A table the file names replaces the shipped one when decoded; keep
	// the shipped entries it does not mention.
	fill(&c.Status, def.Status)
	fill(&c.Findings.Severity, def.Findings.Severity)
	fill(&c.Findings.Kinds, def.Findings.Kinds)
	fill(&c.Alerts.Severity, def.Alerts.Severity)
	fill(&c.Alerts.Direction, def.Alerts.Direction)
	fill(&c.Alerts.Categories, def.Alerts.Categories)
	fill(&c.Impact.Functions, def.Impact.Functions)
	fill(&c.Impact.Roles, def.Impact.Roles)
	fill(&c.Controls, def.Controls)
	if err := c.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Name = name
			ce.locate(data)
		}
		return nil, err
	}
	return c, nil
}

func fill[K comparable, V any](dst *map[K]V, def map[K]V) {
	if *dst == nil {
		*dst = map[K]V{}
	}
	for k, v := range def {
		if _, ok := (*dst)[k]; !ok {
			(*dst)[k] = v
		}
	}
}

// decodeMessage says which key a decoding error is about: the YAML
// library names the position, not the key.
func decodeMessage(data []byte, err error) string {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return oneLine(err.Error())
	}
	tok := ye.GetToken()
	pos := tok.Position
	msg := oneLine(ye.GetMessage())
	var te *yaml.TypeError
	if errors.As(err, &te) && te.DstType != nil {
		got := fmt.Sprintf("%q", tok.Value)
		if te.SrcType != nil {
			switch te.SrcType.Kind() {
			case reflect.Map:
				got = "a table of keys"
			case reflect.Slice:
				got = "a list"
			}
		}
		msg = fmt.Sprintf("%s is not %s", got, typeName(te.DstType.Kind()))
	}
	f, perr := parser.ParseBytes(data, 0)
	if perr == nil {
		for _, doc := range f.Docs {
			if p := pathAt(doc.Body, pos.Line, pos.Column, ""); p != "" {
				return fmt.Sprintf("line %d: %s: %s", pos.Line, p, msg)
			}
		}
	}
	return fmt.Sprintf("line %d column %d: %s", pos.Line, pos.Column, msg)
}

func typeName(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a text"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "a table of keys"
	case reflect.Slice:
		return "a list"
	}
	return "of the expected type (" + k.String() + ")"
}

// pathAt returns the dotted key whose key or value starts at line:col.
func pathAt(n ast.Node, line, col int, prefix string) string {
	at := func(n ast.Node) bool {
		if n == nil || n.GetToken() == nil {
			return false
		}
		p := n.GetToken().Position
		return p.Line == line && p.Column == col
	}
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, mv := range n.Values {
			if p := pathAt(mv, line, col, prefix); p != "" {
				return p
			}
		}
	case *ast.MappingValueNode:
		key := ""
		if n.Key != nil && n.Key.GetToken() != nil {
			key = n.Key.GetToken().Value
		}
		p := key
		if prefix != "" {
			p = prefix + "." + key
		}
		if at(n.Key) || at(n.Value) {
			return p
		}
		return pathAt(n.Value, line, col, p)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			if at(v) {
				return p
			}
			if q := pathAt(v, line, col, p); q != "" {
				return q
			}
		}
	case *ast.AnchorNode:
		return pathAt(n.Value, line, col, prefix)
	case *ast.TagNode:
		return pathAt(n.Value, line, col, prefix)
	}
	return ""
}

// oneLine folds the YAML library's multi-line messages into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// ConfigError lists every problem of a config, each with its key.
type ConfigError struct {
	Name   string
	Issues []Issue
}

// Issue is one invalid key.
type Issue struct {
	// Path is the key, dotted from the top: findings.kinds.smbv1.weight.
	Path string
	// Line is the key's line in the file, 0 when the value came from the
	// shipped defaults.
	Line int
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("rama config")
	if e.Name != "" {
		b.WriteString(" " + e.Name)
	}
	b.WriteString(":")
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteString(";")
		}
		if is.Line > 0 {
			fmt.Fprintf(&b, " line %d:", is.Line)
		}
		fmt.Fprintf(&b, " %s: %s", is.Path, is.Msg)
	}
	return b.String()
}

// locate finds each issue's line in the file.
func (e *ConfigError) locate(data []byte) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return
	}
	for i := range e.Issues {
		// A missing key has no line: point at its nearest parent in the file.
		for path := e.Issues[i].Path; path != ""; path = parentPath(path) {
			if line := lineOf(f, path); line > 0 {
				e.Issues[i].Line = line
				break
			}
		}
	}
	// Report in file order; problems with shipped values last.
	slices.SortStableFunc(e.Issues, func(a, b Issue) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = math.MaxInt
		}
		if lb == 0 {
			lb = math.MaxInt
		}
		return cmp.Compare(la, lb)
	})
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i > 0 {
		return p[:i]
	}
	return ""
}

func lineOf(f *ast.File, path string) int {
	p, err := yaml.PathString("$." + quotePath(path))
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(f)
	if err != nil || n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

// quotePath quotes path elements the YAML path syntax would misread.
func quotePath(p string) string {
	parts := strings.Split(p, ".")
	for i, s := range parts {
		if strings.ContainsAny(s, "'\"*$ ") {
			parts[i] = "'" + strings.ReplaceAll(s, "'", "") + "'"
		}
	}
	return strings.Join(parts, ".")
}

type validator struct{ issues []Issue }

func (v *validator) add(path, format string, args ...any) {
	v.issues = append(v.issues, Issue{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// unit checks a weight in [0, 1].
func (v *validator) unit(path string, x float64) {
	v.rng(path, x, 0, 1)
}

func (v *validator) rng(path string, x, lo, hi float64) {
	if math.IsNaN(x) || x < lo || x > hi {
		v.add(path, "%v is outside [%v, %v]", x, lo, hi)
	}
}

func (v *validator) enisa(path string, ids []int) {
	seen := map[int]bool{}
	for i, id := range ids {
		if id < 1 || id > len(enisaNames) {
			v.add(fmt.Sprintf("%s[%d]", path, i), "%d is not an ENISA ETL 2018 threat (1–15)", id)
		}
		if seen[id] {
			v.add(fmt.Sprintf("%s[%d]", path, i), "%d listed twice", id)
		}
		seen[id] = true
	}
}

func (v *validator) part(path string, p Part) {
	if p.Weight == nil {
		v.add(path+".weight", "missing (a weight in [0, 1])")
	} else {
		v.unit(path+".weight", *p.Weight)
	}
	if p.ENISA == nil {
		v.add(path+".enisa", "missing (ENISA threat numbers 1–15, [] for none)")
	}
	v.enisa(path+".enisa", p.ENISA)
}

func (v *validator) table(path string, m map[string]float64, keys []string, lo, hi float64) {
	for _, k := range keys {
		x, ok := m[k]
		if !ok {
			v.add(path+"."+k, "missing")
			continue
		}
		v.rng(path+"."+k, x, lo, hi)
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(keys, k) {
			v.add(path+"."+k, "unknown key (known: %s)", strings.Join(keys, ", "))
		}
	}
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func asStrings[K ~string, V any](m map[K]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, x := range m {
		out[string(k)] = x
	}
	return out
}

// Validate checks every key of c and returns a *ConfigError listing all
// problems, or nil.
func (c *Config) Validate() error {
	v := &validator{}
	if c.Version != 1 {
		v.add("version", "%d is not a known version (1)", c.Version)
	}
	b := c.Bands
	v.rng("bands.medium", b.Medium, 0, 100)
	v.rng("bands.high", b.High, 0, 100)
	v.rng("bands.critical", b.Critical, 0, 100)
	if !(b.Medium < b.High) {
		v.add("bands.high", "%v must be above bands.medium (%v)", b.High, b.Medium)
	}
	if !(b.High < b.Critical) {
		v.add("bands.critical", "%v must be above bands.high (%v)", b.Critical, b.High)
	}
	if !(b.Medium > 0) {
		v.add("bands.medium", "%v must be above 0", b.Medium)
	}
	if math.IsNaN(c.MaxPart) || c.MaxPart <= 0 || c.MaxPart >= 1 {
		v.add("max_part", "%v is outside (0, 1): a part of 1 would make the score certain and its shares infinite", c.MaxPart)
	}
	v.table("status", asStrings(c.Status), []string{"open", "accepted", "false-positive", "fixed"}, 0, 1)

	vu := c.Vulnerabilities
	v.unit("vulnerabilities.weight", vu.Weight)
	v.unit("vulnerabilities.kev_exploit", vu.KEVExploit)
	v.unit("vulnerabilities.default_epss", vu.DefaultEPSS)
	v.rng("vulnerabilities.default_cvss", vu.DefaultCVSS, 0, 10)
	v.rng("vulnerabilities.kev_floor", vu.KEVFloor, 0, 100)
	v.unit("vulnerabilities.repeat", vu.Repeat)
	v.enisa("vulnerabilities.enisa", vu.ENISA)
	v.enisa("vulnerabilities.ransomware_enisa", vu.RansomwareENISA)

	f := c.Findings
	v.unit("findings.repeat", f.Repeat)
	v.table("findings.severity", f.Severity, []string{"low", "medium", "high", "critical", "unrated"}, 0, 1)
	for _, k := range sortedKeys(f.Kinds) {
		if k == "" {
			v.add("findings.kinds", "an empty kind name")
			continue
		}
		v.part("findings.kinds."+k, f.Kinds[k])
	}
	v.part("findings.other", f.Other)

	e := c.EOL
	v.unit("eol.at_eol", e.AtEOL)
	v.unit("eol.max", e.Max)
	if e.Max < e.AtEOL {
		v.add("eol.max", "%v must not be below eol.at_eol (%v)", e.Max, e.AtEOL)
	}
	v.rng("eol.ramp_years", e.RampYears, 0, 50)
	v.unit("eol.repeat", e.Repeat)
	v.enisa("eol.enisa", e.ENISA)

	a := c.Alerts
	const tenYears = 10 * 365 * 24 * time.Hour
	if hl, err := a.HalfLife.Parse(); err != nil {
		v.add("alerts.half_life", "%q is not a duration (Go syntax with h, m, s: 168h)", a.HalfLife)
	} else if hl <= 0 || hl > tenYears {
		v.add("alerts.half_life", "%s is outside (0, 87600h]", a.HalfLife)
	}
	if hz, err := a.Horizon.Parse(); err != nil {
		v.add("alerts.horizon", "%q is not a duration (Go syntax with h, m, s: 2160h)", a.Horizon)
	} else if hz < 0 || hz > tenYears {
		v.add("alerts.horizon", "%s is outside [0, 87600h]", a.Horizon)
	}
	v.rng("alerts.source_floor", a.SourceFloor, 0, 100)
	if fa, err := a.SourceFloorAge.Parse(); err != nil {
		v.add("alerts.source_floor_age", "%q is not a duration (Go syntax with h, m, s: 168h)", a.SourceFloorAge)
	} else if fa < 0 || fa > tenYears {
		v.add("alerts.source_floor_age", "%s is outside [0, 87600h]", a.SourceFloorAge)
	}
	v.unit("alerts.repeat", a.Repeat)
	v.table("alerts.severity", a.Severity, []string{"low", "medium", "high", "critical"}, 0, 1)
	v.table("alerts.direction", asStrings(a.Direction), []string{"target", "source"}, 0, 1)
	for _, k := range sortedKeys(a.Categories) {
		if k == "" {
			v.add("alerts.categories", "an empty category name")
			continue
		}
		v.part("alerts.categories."+k, a.Categories[k])
	}
	v.part("alerts.other", a.Other)

	x := c.Exposure
	v.part("exposure.internet", x.Internet)
	v.part("exposure.flat_network", x.FlatNetwork)
	if x.Peers.Weight == nil {
		v.add("exposure.peers.weight", "missing (a weight in [0, 1])")
	} else {
		v.unit("exposure.peers.weight", *x.Peers.Weight)
	}
	if x.Peers.Saturation < 1 || x.Peers.Saturation > 1<<24 {
		v.add("exposure.peers.saturation", "%d is outside [1, %d]", x.Peers.Saturation, 1<<24)
	}
	v.enisa("exposure.peers.enisa", x.Peers.ENISA)

	im := c.Impact
	fnames := make([]string, len(functions))
	for i, fn := range functions {
		fnames[i] = string(fn)
	}
	v.table("impact.functions", asStrings(im.Functions), fnames, 0, 1)
	// The order of clinical functions is what the score promises
	// (life-sustaining ≥ therapy ≥ diagnosis ≥ monitoring ≥ support).
	for i := 1; i < len(functions); i++ {
		hi, lo := im.Functions[functions[i-1]], im.Functions[functions[i]]
		if lo > hi {
			v.add("impact.functions."+string(functions[i]), "%v must not exceed %s (%v)", lo, functions[i-1], hi)
		}
	}
	v.unit("impact.phi", im.PHI)
	if !knownFunction(im.DefaultFunction) {
		v.add("impact.default_function", "%q is not a clinical function (%s)", im.DefaultFunction, strings.Join(fnames, ", "))
	}
	for _, r := range sortedKeys(im.Roles) {
		ri := im.Roles[r]
		if !knownFunction(ri.Function) {
			v.add("impact.roles."+r+".function", "%q is not a clinical function (%s)", ri.Function, strings.Join(fnames, ", "))
		}
		if ri.PHI == nil {
			v.add("impact.roles."+r+".phi", "missing (true or false)")
		}
	}

	for _, k := range sortedKeys(c.Controls) {
		cc := c.Controls[k]
		p := "controls." + k
		if k == "" {
			v.add("controls", "an empty control name")
		}
		v.unit(p+".vulnerabilities", cc.Vulnerabilities)
		v.unit(p+".findings", cc.Findings)
		v.unit(p+".eol", cc.EOL)
		v.unit(p+".alerts", cc.Alerts)
		v.unit(p+".exposure", cc.Exposure)
	}
	if len(c.Controls) > maxControlKinds {
		v.add("controls", "%d kinds; at most %d", len(c.Controls), maxControlKinds)
	}

	h := c.Hospital
	if h.TopK < 1 || h.TopK > 100000 {
		v.add("hospital.top_k", "%d is outside [1, 100000]", h.TopK)
	}
	v.unit("hospital.share_weight", h.ShareWeight)
	if math.IsNaN(h.ShareSaturation) || h.ShareSaturation <= 0 || h.ShareSaturation > 1 {
		v.add("hospital.share_saturation", "%v is outside (0, 1]", h.ShareSaturation)
	}
	if len(v.issues) == 0 {
		return nil
	}
	return &ConfigError{Issues: v.issues}
}

func knownFunction(f Function) bool { return slices.Contains(functions[:], f) }

// maxControlKinds bounds the control kinds a config may define, so that a
// device's controls fit fixed-size arrays in the scoring loop.
const maxControlKinds = 32
