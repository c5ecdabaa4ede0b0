package version

import (
	"regexp"
	"strings"
)

// Range is a set of versions as an advisory states it: every version, a
// union of intervals, or text that could not be read (kept so that a match
// can still be reported, with lower confidence, and the analyst can read
// the rule). It is a plain value so the knowledge base can store it.
type Range struct {
	Raw       string     `json:"raw,omitempty"`
	All       bool       `json:"all,omitempty"`
	Intervals []Interval `json:"intervals,omitempty"`
	// Unparsed says why Raw could not be read as version constraints
	// (a date, prose); empty when it was read.
	Unparsed string `json:"unparsed,omitempty"`
	// Note is text beside the constraints that was not used ("integrated
	// into GE MobileLink", "on Windows 8.1 with IIS 7.5").
	Note string `json:"note,omitempty"`
}

// Interval is one part of a Range: an exact version, a prefix ("12.x"), or
// bounds (either may be empty: unbounded).
type Interval struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Lo     string `json:"lo,omitempty"`
	LoIncl bool   `json:"lo_incl,omitempty"`
	Hi     string `json:"hi,omitempty"`
	HiIncl bool   `json:"hi_incl,omitempty"`
}

// maxClauses bounds the constraints read from one rule.
const maxClauses = 32

// AllVersions is the range of every version.
func AllVersions(raw string) Range { return Range{Raw: raw, All: true} }

// Exact is the range of one version.
func Exact(v string) Range { return Range{Raw: v, Intervals: []Interval{{Exact: v}}} }

// FromBounds builds the range of an NVD cpeMatch: an exact version from the
// CPE, or versionStart/End Including/Excluding bounds. With none of them it
// is every version.
func FromBounds(exact, startIncl, startExcl, endIncl, endExcl string) Range {
	iv := Interval{}
	switch {
	case startIncl != "":
		iv.Lo, iv.LoIncl = startIncl, true
	case startExcl != "":
		iv.Lo = startExcl
	}
	switch {
	case endIncl != "":
		iv.Hi, iv.HiIncl = endIncl, true
	case endExcl != "":
		iv.Hi = endExcl
	}
	if iv.Lo == "" && iv.Hi == "" {
		if exact != "" && exact != "*" {
			if exact == "-" {
				return Range{Raw: "-", Unparsed: "version not applicable (-)"}
			}
			return Exact(exact)
		}
		return AllVersions("*")
	}
	raw := ""
	if iv.Lo != "" {
		raw = map[bool]string{true: ">=", false: ">"}[iv.LoIncl] + iv.Lo
	}
	if iv.Hi != "" {
		if raw != "" {
			raw += "|"
		}
		raw += map[bool]string{true: "<=", false: "<"}[iv.HiIncl] + iv.Hi
	}
	return Range{Raw: raw, Intervals: []Interval{iv}}
}

var (
	reOp        = regexp.MustCompile(`^(<=|>=|==|=<|=>|<|>|=|!=)\s*(.*)$`)
	reAndPrior  = regexp.MustCompile(`^(.+?)\s*(?:,\s*)?(?:and|or|&)\s+(?:all\s+)?(?:prior|earlier|below|before|older|lower|previous)(?:\s+versions?)?\b(.*)$`)
	reAndLater  = regexp.MustCompile(`^(.+?)\s*(?:,\s*)?(?:and|or|&)\s+(?:all\s+)?(?:later|above|newer|higher|after|greater)(?:\s+versions?)?\b(.*)$`)
	rePriorTo   = regexp.MustCompile(`^(?:all\s+)?(?:versions?\s+)?(?:prior\s+to|before|earlier\s+than|older\s+than|lower\s+than|below)\s+(.+)$`)
	reUpTo      = regexp.MustCompile(`^(?:all\s+)?(?:versions?\s+)?(?:up\s+to(?:\s+and\s+including)?|through|thru|until)\s+(.+)$`)
	reFromTo    = regexp.MustCompile(`^(?:from\s+|between\s+)?(\S+)\s+(?:to|through|thru|and|-)\s+(\S+)(.*)$`)
	reWildcard  = regexp.MustCompile(`^v?(\d+(?:\.\d+)*)((?:\.[x*])+)$`)
	reMonth     = regexp.MustCompile(`\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b`)
	reSlashDate = regexp.MustCompile(`\b\d{1,2}/\d{1,2}/\d{2,4}\b`)
	reParen     = regexp.MustCompile(`\([^()]*\)`)
	reQualifier = regexp.MustCompile(`^(?:sp|service|pack|build|mr|update|patch|hotfix|sr|u|p)\d*$`)
)

// ParseRange reads a version rule: a vers URI (vers:generic/>=1.0|<2.0,
// vers:all/*), or the free text of CSAF product_version_range branches and
// NVD-like prose: "<= 3.2", "< 8.2.2", ">= 4.0 | <= 4.6", "3.0|3.1",
// "V2.3.1 SP4 and prior", "prior to 5.3", "12.x", "all versions". Text that
// is not a rule (a date, a sentence) gives a Range with Unparsed set.
func ParseRange(s string) Range {
	raw := strings.TrimSpace(s)
	if len(raw) > 4*MaxLen {
		return Range{Raw: raw[:4*MaxLen], Unparsed: "rule too long"}
	}
	r := Range{Raw: raw}
	t := strings.ToLower(strings.Join(strings.Fields(raw), " "))
	if strings.HasPrefix(t, "vers:") {
		return parseVers(raw, t)
	}
	// Remarks in brackets are notes, not constraints; nested brackets are
	// peeled from the inside.
	for i := 0; i < 4 && strings.Contains(t, "("); i++ {
		for _, m := range reParen.FindAllString(t, -1) {
			r.Note = strings.TrimSpace(r.Note + " " + strings.Trim(m, "()"))
		}
		t = strings.TrimSpace(reParen.ReplaceAllString(t, " "))
	}
	if i := strings.IndexByte(t, '('); i >= 0 { // unbalanced: drop the rest
		r.Note = strings.TrimSpace(r.Note + " " + t[i+1:])
		t = strings.TrimSpace(t[:i])
	}
	t = strings.Join(strings.Fields(t), " ")
	switch t {
	case "", "*", "-":
		if t == "" && r.Note == "" {
			r.Unparsed = "empty rule"
			return r
		}
		if t == "-" {
			r.Unparsed = "version not applicable (-)"
			return r
		}
		r.All = true
		return r
	}
	if isAllText(t) {
		r.All = true
		return r
	}
	if reMonth.MatchString(t) || reSlashDate.MatchString(t) {
		r.Unparsed = "rule is a date, not a version"
		return r
	}
	parts := strings.Split(t, "|")
	if len(parts) > maxClauses {
		r.Unparsed = "too many constraints"
		return r
	}
	var cls []clause
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		c, note, ok := parseClause(p)
		if !ok {
			r.Unparsed = "constraint " + quote(p) + " is not a version rule"
			r.Intervals = nil
			return r
		}
		if note != "" {
			r.Note = strings.TrimSpace(r.Note + " " + note)
		}
		cls = append(cls, c...)
	}
	if len(cls) == 0 {
		r.Unparsed = "no constraint"
		return r
	}
	r.Intervals = combine(cls)
	return r
}

func quote(s string) string { return "\"" + s + "\"" }

func isAllText(t string) bool {
	switch t {
	case "all", "all versions", "any", "any version", "all versions affected", "all releases", "all models",
		"all software versions", "all firmware versions", "all current versions", "all models and versions":
		return true
	}
	return strings.HasPrefix(t, "all versions") || strings.HasPrefix(t, "* ")
}

// clause is one constraint: an operator and a version, or a prefix.
type clause struct {
	op     string // "<", "<=", ">", ">=", "=", "!=", "prefix", "range"
	v, v2  string
	closed bool // for "range": the upper bound is included
}

// parseClause reads one "|"-separated constraint. The note is trailing
// text after the version that was not read.
func parseClause(p string) ([]clause, string, bool) {
	if m := reOp.FindStringSubmatch(p); m != nil {
		op := m[1]
		switch op {
		case "==":
			op = "="
		case "=<":
			op = "<="
		case "=>":
			op = ">="
		}
		rest := strings.TrimSpace(m[2])
		// "< 5.0 and later"-style contradictions are prose, not rules.
		v, note, ok := versionToken(rest)
		if !ok {
			return nil, "", false
		}
		// "A10 < A11" style: a version, an operator and a version.
		return []clause{{op: op, v: v}}, note, true
	}
	if m := reAndPrior.FindStringSubmatch(p); m != nil {
		v, note, ok := versionToken(m[1])
		if !ok {
			return nil, "", false
		}
		return []clause{{op: "<=", v: v}}, joinNote(note, m[2]), true
	}
	if m := reAndLater.FindStringSubmatch(p); m != nil {
		v, note, ok := versionToken(m[1])
		if !ok {
			return nil, "", false
		}
		return []clause{{op: ">=", v: v}}, joinNote(note, m[2]), true
	}
	if strings.HasSuffix(p, " and below") || strings.HasSuffix(p, " and lower") {
		v, note, ok := versionToken(strings.TrimSuffix(strings.TrimSuffix(p, " and below"), " and lower"))
		if !ok {
			return nil, "", false
		}
		return []clause{{op: "<=", v: v}}, note, true
	}
	if m := rePriorTo.FindStringSubmatch(p); m != nil {
		v, note, ok := versionToken(m[1])
		if !ok {
			return nil, "", false
		}
		return []clause{{op: "<", v: v}}, note, true
	}
	if m := reUpTo.FindStringSubmatch(p); m != nil {
		v, note, ok := versionToken(m[1])
		if !ok {
			return nil, "", false
		}
		return []clause{{op: "<=", v: v}}, note, true
	}
	p = strings.TrimPrefix(strings.TrimPrefix(p, "versions "), "version ")
	if m := reWildcard.FindStringSubmatch(p); m != nil {
		return []clause{{op: "prefix", v: m[1]}}, "", true
	}
	if m := reFromTo.FindStringSubmatch(p); m != nil && looksLikeVersion(m[1]) && looksLikeVersion(m[2]) && strings.TrimSpace(m[3]) == "" {
		return []clause{{op: "range", v: m[1], v2: m[2], closed: true}}, "", true
	}
	v, note, ok := versionToken(p)
	if !ok || note != "" {
		// A bare value with prose after it ("2nd edition", "882160 gemini
		// dual") is a name, not a version.
		return nil, "", false
	}
	return []clause{{op: "=", v: v}}, "", true
}

func joinNote(a, b string) string {
	return strings.TrimSpace(strings.TrimSpace(a) + " " + strings.TrimSpace(strings.Trim(b, " ,.;")))
}

// versionToken takes the version at the start of s: its first word plus
// qualifier words that belong to it ("2.3.1 sp4", "4.2.1 build 1234",
// "3.0 d15"); the rest is returned as a note.
func versionToken(s string) (v, note string, ok bool) {
	f := strings.Fields(s)
	if len(f) == 0 || !looksLikeVersion(f[0]) {
		return "", "", false
	}
	n := 1
	for n < len(f) && n < 6 {
		w := f[n]
		switch {
		case reQualifier.MatchString(w):
			n++
			continue
		case n > 0 && isQualifierWord(f[n-1]) && isNumeric(w):
			n++
			continue
		case len(w) <= 4 && hasDigit(w) && isAlnum(w) && !isYear(w):
			// "3.0 d15", "s4 a.07.107": short revision tags.
			n++
			continue
		}
		break
	}
	v = strings.Join(f[:n], " ")
	note = strings.Join(f[n:], " ")
	if wildcard := reWildcard.FindStringSubmatch(f[0]); wildcard != nil && n == 1 {
		// "<= 12.2.x.x": the x stands for anything within 12.2; as a bound
		// it means the highest 12.2 release, approximated by 12.2 itself
		// plus any suffix (see combine).
		v = wildcard[1] + ".x"
	}
	return v, note, true
}

func isQualifierWord(w string) bool {
	switch w {
	case "sp", "service", "pack", "build", "mr", "update", "patch", "hotfix", "sr":
		return true
	}
	return false
}

func isYear(w string) bool { return len(w) == 4 && isNumeric(w) && (w[0] == '1' || w[0] == '2') }

func isNumeric(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if !isDigit(w[i]) {
			return false
		}
	}
	return true
}

func hasDigit(w string) bool {
	for i := 0; i < len(w); i++ {
		if isDigit(w[i]) {
			return true
		}
	}
	return false
}

func isAlnum(w string) bool {
	for i := 0; i < len(w); i++ {
		if !isDigit(w[i]) && !isLetter(w[i]) {
			return false
		}
	}
	return true
}

// looksLikeVersion says whether one word can be a version: it holds a
// digit (2.4a, r8.0.3, 012u000040, bt02), or is a short letter revision
// (k, n, b.12); words of prose are not.
func looksLikeVersion(w string) bool {
	if w == "" || len(w) > MaxLen {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !(isDigit(c) || isLetter(c) || c == '.' || c == '-' || c == '_' || c == '+' || c == '*' || c == '~' || c == ':') {
			return false
		}
	}
	if hasDigit(w) {
		return true
	}
	// Letter revisions: one or two letters, optionally dotted (k, n, b.).
	l := strings.Trim(w, ".")
	return len(l) <= 2 && isAlnum(l) && l != ""
}

// combine turns the constraints of one rule into intervals, the way vers
// and CSAF authors write them: a lower bound followed by an upper bound is
// one interval (>= 4.0 | <= 4.6); a lone upper or lower bound is open on
// its other side; exact versions and prefixes stand alone. A "!=" removes
// nothing here (it is rare) but keeps the rest of the rule readable.
func combine(cls []clause) []Interval {
	var out []Interval
	for i := 0; i < len(cls); i++ {
		c := cls[i]
		switch c.op {
		case "=":
			out = append(out, Interval{Exact: c.v})
		case "prefix":
			out = append(out, Interval{Prefix: c.v})
		case "range":
			out = append(out, Interval{Lo: c.v, LoIncl: true, Hi: c.v2, HiIncl: c.closed})
		case ">", ">=":
			iv := Interval{Lo: c.v, LoIncl: c.op == ">="}
			if i+1 < len(cls) && (cls[i+1].op == "<" || cls[i+1].op == "<=") {
				iv.Hi, iv.HiIncl = cls[i+1].v, cls[i+1].op == "<="
				i++
			}
			out = append(out, iv)
		case "<", "<=":
			out = append(out, Interval{Hi: c.v, HiIncl: c.op == "<="})
		}
	}
	return out
}

// parseVers reads a vers URI: vers:<scheme>/<constraint>|<constraint>…
// (https://github.com/package-url/purl-spec/blob/main/VERSION-RANGE-SPEC.rst).
// The scheme is recorded in the raw text; versions compare with this
// package's order whatever the scheme.
func parseVers(raw, t string) Range {
	r := Range{Raw: raw}
	rest := strings.TrimPrefix(t, "vers:")
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		r.Unparsed = "vers URI without constraints"
		return r
	}
	cons := strings.TrimSpace(rest[slash+1:])
	if cons == "*" {
		r.All = true
		return r
	}
	parts := strings.Split(cons, "|")
	if len(parts) > maxClauses {
		r.Unparsed = "too many constraints"
		return r
	}
	var cls []clause
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			r.Unparsed = "empty vers constraint"
			return r
		}
		op := "="
		for _, o := range []string{"<=", ">=", "!=", "<", ">", "="} {
			if strings.HasPrefix(p, o) {
				op, p = o, strings.TrimSpace(p[len(o):])
				break
			}
		}
		if p == "" || strings.ContainsAny(p, " \t") {
			r.Unparsed = "bad vers constraint"
			return r
		}
		if op == "!=" {
			continue
		}
		cls = append(cls, clause{op: op, v: p})
	}
	r.Intervals = combine(cls)
	if len(r.Intervals) == 0 {
		r.Unparsed = "no constraint"
	}
	return r
}
