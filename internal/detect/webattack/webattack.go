// Package webattack finds attacks in cleartext HTTP requests: SQL
// injection, cross-site scripting, path traversal, command injection and
// JNDI (log4j-style) lookups. It implements httpproto.RequestInspector:
// the HTTP dissector shows it each request's raw target, head and first
// body bytes while they pass, and it answers with verdicts — class, the
// pattern's id, where, and the parameter or header NAME — never a value.
//
// Values are normalised before matching, the way a server would read
// them: percent-decoding (twice, for double encoding; %uXXXX too), '+' as
// space in queries and forms, HTML character references, ASCII lower
// case, SQL comments (/**/) as spaces, NUL bytes dropped, and log4j's
// nested lookups (${lower:j}, ${::-n} …) resolved. Matching uses Go's
// regexp (RE2: linear in the input), behind a cheap check for the
// characters each class needs, and the work per request is bounded: at
// most MaxParams parameters, MaxHeaders header fields, MaxValue bytes per
// value and MaxBytes in all.
//
// An Inspector is for one goroutine at a time (the sensor's): it reuses
// its buffers. The rule set it applies can be swapped at any time from
// another goroutine with SetConfig.
package webattack

import (
	"bytes"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/heir-emd/heir/internal/proto"
	httpproto "github.com/heir-emd/heir/internal/proto/http"
)

// Attack classes.
const (
	SQLi     = "sqli"
	XSS      = "xss"
	Traverse = "path-traversal"
	CmdInj   = "command-injection"
	JNDI     = "jndi-injection"
)

// Classes lists every class, in the order they are checked.
func Classes() []string { return []string{SQLi, XSS, Traverse, CmdInj, JNDI} }

// Bounds on the work done per request.
const (
	MaxParams  = 64
	MaxHeaders = 64
	MaxValue   = 2048
	MaxBytes   = 16 << 10
	// maxNameLen bounds a reported parameter name.
	maxNameLen = 64
)

// Config says which classes are looked for. The zero Config looks for
// none; DefaultConfig for all.
type Config struct {
	Enabled map[string]bool
}

// DefaultConfig enables every class.
func DefaultConfig() Config {
	c := Config{Enabled: map[string]bool{}}
	for _, k := range Classes() {
		c.Enabled[k] = true
	}
	return c
}

// Stats count the inspector's work.
type Stats struct {
	Requests  uint64 `json:"requests"`
	Values    uint64 `json:"values"`
	Attacks   uint64 `json:"attacks"`
	Truncated uint64 `json:"truncated"`
}

// rule is one pattern of a class: a regexp, or a function where a
// regexp would be slow.
type rule struct {
	id    string
	class string
	re    *regexp.Regexp
	match func([]byte) bool
}

// Inspector applies the patterns. Create it with New.
type Inspector struct {
	cfg    atomic.Pointer[Config]
	rules  []rule
	lookup *regexp.Regexp // a log4j lookup that resolves to its default
	kw     [256][]keyword

	// per-request state, reused
	n1, n2, js []byte
	budget     int
	dst        []httpproto.Attack
	where      string
	noXSS      bool // markup is the syntax of the body (XML)
	stats      Stats
}

// patterns are matched against normalised (lower-case, decoded) values.
// Each needs the trigger characters of its class to be present (see
// triggers), which keeps ordinary values away from the regexps.
func patterns() []struct{ id, class, re string } {
	return []struct{ id, class, re string }{
		{"sqli-union", SQLi, `\bunion\b[\s(]*(?:all\b|distinct\b)?[\s(]*select\b`},
		{"sqli-tautology", SQLi, `['"\x60)]\s*(?:or|and|xor|\|\||&&)\s*\(?\s*['"\x60]?[\w.]*['"\x60]?\s*(?:=|<>|!=|<=|>=|<|>|\blike\b|\bis\b)`},
		{"sqli-numeric-tautology", SQLi, `(?:^|\s)(?:or|and)\s+\(?\d+\)?\s*(?:=|<>|!=|<|>)\s*\(?\d+`},
		{"sqli-comment", SQLi, `['"\x60)]\s*(?:--|#|/\*|;\s*--)`},
		{"sqli-stacked", SQLi, `;\s*(?:select|insert|update|delete|drop|create|alter|exec|execute|declare|shutdown|truncate)\b`},
		{"sqli-function", SQLi, `\b(?:sleep|pg_sleep|benchmark|extractvalue|updatexml|load_file|dbms_pipe\.receive_message)\s*\(|\bwaitfor\s+delay\b|\binformation_schema\b|\bxp_cmdshell\b|@@version\b|\bsysobjects\b|\bpg_catalog\b`},
		{"xss-script", XSS, `<\s*/?\s*script\b`},
		{"xss-handler", XSS, `<[a-z!][^>]*?[\s/"']on[a-z]{3,20}\s*=|["'\s/]on(?:error|load|mouseover|mouseenter|focus|blur|click|submit|toggle|animationstart|pointerover|begin)\s*=`},
		{"xss-uri", XSS, `(?:javascript|vbscript|livescript)\s*:|data\s*:\s*text/html`},
		{"xss-tag", XSS, `<\s*(?:iframe|svg|object|embed|applet|meta|base|math|marquee)\b`},
		{"xss-dom", XSS, `\bdocument\s*\.\s*(?:cookie|domain|write)\b|\balert\s*\(|\beval\s*\(|\bstring\.fromcharcode\b`},
		{"traversal-dotdot", Traverse, `(?:^|[\\/=])\.\.(?:[\\/]|;/|$)`},
		{"traversal-file", Traverse, `/etc/(?:passwd|shadow|group|hosts)\b|\b(?:boot|win)\.ini\b|/proc/self/|c:\\windows\\|\\windows\\system32\b|\bweb-inf/web\.xml\b`},
		// cmdi-chain is matched by cmdChain, not a regexp (see there).
		{"cmdi-shellshock", CmdInj, `\(\s*\)\s*\{[^}]*\}\s*;`},
		{"jndi-lookup", JNDI, `\$\{\s*jndi\s*:\s*(?:ldaps?|rmi|dns|iiop|https?|nis|nds|corba)\b|\$\{\s*jndi\s*:`},
	}
}

// New returns an inspector applying cfg.
func New(cfg Config) *Inspector {
	in := &Inspector{
		lookup: regexp.MustCompile(`\$\{[^${}]*?:-([^${}]*)\}|\$\{(?:lower|upper):([^${}]*)\}`),
		n1:     make([]byte, 0, 2*MaxValue),
		n2:     make([]byte, 0, 2*MaxValue),
		js:     make([]byte, 0, MaxValue),
	}
	for _, p := range patterns() {
		in.rules = append(in.rules, rule{id: p.id, class: p.class, re: regexp.MustCompile(p.re)})
	}
	in.rules = append(in.rules, rule{id: "cmdi-chain", class: CmdInj, match: cmdChain})
	in.kw = buildKeywords()
	in.SetConfig(cfg)
	return in
}

// SetConfig replaces the configuration; safe from any goroutine.
func (in *Inspector) SetConfig(cfg Config) {
	c := Config{Enabled: map[string]bool{}}
	for k, v := range cfg.Enabled {
		c.Enabled[k] = v
	}
	in.cfg.Store(&c)
}

// Stats returns the counters so far (same goroutine as the inspection).
func (in *Inspector) Stats() Stats { return in.stats }

// RuleIDs lists the pattern ids with their class.
func RuleIDs() map[string]string {
	m := map[string]string{}
	for _, p := range patterns() {
		m[p.id] = p.class
	}
	m["cmdi-chain"] = CmdInj
	return m
}

var _ httpproto.RequestInspector = (*Inspector)(nil)

// InspectRequest implements httpproto.RequestInspector.
func (in *Inspector) InspectRequest(_ *proto.Conn, r *httpproto.RawRequest, dst []httpproto.Attack) []httpproto.Attack {
	return in.Inspect(r, dst)
}

// Inspect looks at one request and appends verdicts to dst.
func (in *Inspector) Inspect(r *httpproto.RawRequest, dst []httpproto.Attack) []httpproto.Attack {
	cfg := in.cfg.Load()
	if cfg == nil || len(cfg.Enabled) == 0 {
		return dst
	}
	in.stats.Requests++
	in.dst = dst
	in.budget = MaxBytes
	if !r.BodyOnly {
		path, query := splitTarget(r.Target)
		in.where = "path"
		in.value(cfg, path, nil, "", false)
		in.where = "query"
		in.params(cfg, query)
		in.where = "header"
		in.headers(cfg, r.Head)
	}
	if len(r.Body) > 0 {
		in.where = "body"
		in.body(cfg, r.ContentType, r.Body)
	}
	out := in.dst
	in.dst = nil
	in.stats.Attacks += uint64(len(out) - len(dst))
	return out
}

// splitTarget cuts a request target into path and query; a fragment
// (never sent by browsers, sometimes by tools) is dropped.
func splitTarget(t []byte) (path, query []byte) {
	if i := bytes.IndexByte(t, '#'); i >= 0 {
		t = t[:i]
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, nil
}

// params inspects a query or form body: name=value pairs separated by &.
// (A few old servers also split on ';'; heir does not, so that a stacked
// query "id=1;DROP …" stays one value.)
func (in *Inspector) params(cfg *Config, q []byte) {
	n := 0
	for len(q) > 0 && in.budget > 0 {
		var pair []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		if len(pair) == 0 {
			continue
		}
		if n++; n > MaxParams {
			in.stats.Truncated++
			return
		}
		name, val := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			name, val = pair[:i], pair[i+1:]
		}
		in.value(cfg, val, name, "", true)
		// A name can carry the attack itself (?<script>=1); the verdict
		// then names no parameter.
		if !validName(name) {
			in.value(cfg, name, nil, "", true)
		}
	}
}

// headers inspects every header field value but the credentials.
func (in *Inspector) headers(cfg *Config, head []byte) {
	// Skip the request line.
	i := bytes.IndexByte(head, '\n')
	if i < 0 {
		return
	}
	head = head[i+1:]
	n := 0
	for len(head) > 0 && in.budget > 0 {
		var line []byte
		if j := bytes.IndexByte(head, '\n'); j >= 0 {
			line, head = head[:j], head[j+1:]
		} else {
			line, head = head, nil
		}
		line = bytes.TrimRight(line, "\r")
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			continue
		}
		if n++; n > MaxHeaders {
			in.stats.Truncated++
			return
		}
		name, val := line[:c], bytes.TrimSpace(line[c+1:])
		switch {
		case bytes.EqualFold(name, []byte("authorization")), bytes.EqualFold(name, []byte("proxy-authorization")):
			// Secrets: not looked at.
		case bytes.EqualFold(name, []byte("cookie")):
			in.cookies(cfg, val)
		default:
			in.value(cfg, val, name, "", false)
		}
	}
}

// cookies inspects each cookie's value under the cookie's name.
func (in *Inspector) cookies(cfg *Config, v []byte) {
	for len(v) > 0 {
		var pair []byte
		if i := bytes.IndexByte(v, ';'); i >= 0 {
			pair, v = v[:i], v[i+1:]
		} else {
			pair, v = v, nil
		}
		pair = bytes.TrimSpace(pair)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			in.value(cfg, pair[i+1:], pair[:i], "cookie:", false)
		}
	}
}

// body inspects a request body by its media type: forms like a query,
// JSON string by string under its key, XML and multipart not for XSS
// (markup is their syntax) but for the rest, other text as one value.
func (in *Inspector) body(cfg *Config, ctype, b []byte) {
	mt := ctype
	if i := bytes.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = bytes.TrimSpace(mt)
	switch {
	case bytes.EqualFold(mt, []byte("application/x-www-form-urlencoded")):
		in.params(cfg, b)
	case containsFold(mt, "json"):
		in.json(cfg, b)
	case containsFold(mt, "multipart/"), containsFold(mt, "octet-stream"), hasPrefixFold(mt, "image/"),
		hasPrefixFold(mt, "audio/"), hasPrefixFold(mt, "video/"), containsFold(mt, "zip"), containsFold(mt, "dicom"):
		// Files and binary data: not text a server parses for queries.
	case containsFold(mt, "xml"):
		in.noXSS = true
		in.value(cfg, b, nil, "", false)
		in.noXSS = false
	default:
		in.value(cfg, b, nil, "", false)
	}
}

// json walks the string tokens of a JSON document: each string value is
// inspected under the key before it.
func (in *Inspector) json(cfg *Config, b []byte) {
	var key []byte
	for i := 0; i < len(b) && in.budget > 0; i++ {
		if b[i] != '"' {
			continue
		}
		// Find the end of the string.
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' {
				j++
			}
			j++
		}
		if j > len(b) {
			j = len(b)
		}
		s := b[i+1 : j]
		k := j + 1
		for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r' || b[k] == '\n') {
			k++
		}
		if k < len(b) && b[k] == ':' {
			key = s
		} else {
			in.jsonValue(cfg, s, key)
		}
		i = j
	}
}

// jsonValue unescapes a JSON string (\" \\ \/ \uXXXX, the forms that can
// hide attack characters) before inspecting it.
func (in *Inspector) jsonValue(cfg *Config, s, key []byte) {
	if bytes.IndexByte(s, '\\') < 0 {
		in.value(cfg, s, key, "", false)
		return
	}
	buf := in.js[:0]
	for i := 0; i < len(s) && len(buf) < MaxValue; i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			buf = append(buf, c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			buf = append(buf, '\n')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if i+4 < len(s) {
				if v, ok := hex4(s[i+1 : i+5]); ok && v < 0x80 {
					buf = append(buf, byte(v))
					i += 4
					continue
				}
			}
			buf = append(buf, 'u')
		default:
			buf = append(buf, s[i])
		}
	}
	in.js = buf[:0]
	in.value(cfg, buf, key, "", false)
}

// value normalises one value and runs the patterns of the enabled classes
// whose trigger characters it holds. name (with prefix) is the parameter,
// header or key that carried it; it is only turned into text for a
// verdict.
func (in *Inspector) value(cfg *Config, raw, name []byte, prefix string, form bool) {
	if len(raw) == 0 || in.budget <= 0 {
		return
	}
	if len(raw) > MaxValue {
		raw = raw[:MaxValue]
		in.stats.Truncated++
	}
	in.budget -= len(raw)
	in.stats.Values++
	v := in.normalise(raw, form)
	if len(v) == 0 {
		return
	}
	tr := in.triggers(v)
	if tr == 0 {
		return
	}
	done := uint8(0)
	for i := range in.rules {
		r := &in.rules[i]
		bit := classBit(r.class)
		if done&bit != 0 || tr&bit == 0 || !cfg.Enabled[r.class] || (in.noXSS && r.class == XSS) {
			continue
		}
		if r.match != nil && r.match(v) || r.re != nil && r.re.Match(v) {
			done |= bit
			in.add(r.class, r.id, name, prefix)
		}
	}
}

func (in *Inspector) add(class, id string, name []byte, prefix string) {
	a := httpproto.Attack{Class: class, Rule: id, Where: in.where}
	if len(name) > 0 {
		if n := paramName(name); n != "" {
			a.Param = prefix + n
		} else {
			a.Param = "(not a name)"
		}
	}
	for _, b := range in.dst {
		if b == a {
			return
		}
	}
	in.dst = append(in.dst, a)
}

// classBit numbers the classes for the trigger mask.
func classBit(class string) uint8 {
	switch class {
	case SQLi:
		return 1
	case XSS:
		return 2
	case Traverse:
		return 4
	case CmdInj:
		return 8
	case JNDI:
		return 16
	}
	return 0
}

// triggers says which classes a normalised value could belong to, from
// what each class cannot do without: SQL needs a quote or a keyword, a
// script a tag, a handler, a script URI or a DOM call, a traversal "..",
// or a sensitive file name, a command a separator, a lookup "${". Most
// values (numbers, words, dates, user agents) have none of these and skip
// every regexp.
func (in *Inspector) triggers(v []byte) uint8 {
	var m uint8
	quote := false
	for i, c := range v {
		switch c {
		case '\'', '"', '`':
			quote = true
		case '<':
			m |= 2
		case '.':
			if i+1 < len(v) && v[i+1] == '.' {
				m |= 4
			}
		case ';', '|', '&', '\n':
			m |= 8
		case '$':
			if i+1 < len(v) && (v[i+1] == '{' || v[i+1] == '(') {
				m |= 8 | 16
			}
		case '{':
			m |= 8
		}
	}
	if quote {
		m |= 1 | 8
		if bytes.IndexByte(v, '=') >= 0 {
			m |= 2 // attribute injection: " onmouseover="
		}
	}
	if m&7 != 7 {
		m |= in.keywords(v)
	}
	return m
}

// Words that let a value without quotes or tags still be an attack.
const (
	sqlWordList    = "union|select|sleep|benchmark|waitfor|information_schema|xp_cmdshell|@@version|extractvalue|updatexml|load_file|sysobjects|pg_catalog| or | and |drop |insert |delete |update |exec|declare|shutdown|truncate|dbms_pipe"
	scriptWordList = "script:|data:|document.|alert(|eval(|fromcharcode"
	fileWordList   = "/etc/|.ini|/proc/|\\windows|web-inf"
)

// keyword is a word that marks a class (by its trigger bit).
type keyword struct {
	word string
	bit  uint8
}

// buildKeywords indexes the keyword lists by first byte, so that one pass
// over a value finds them all.
func buildKeywords() [256][]keyword {
	var t [256][]keyword
	for _, l := range []struct {
		list string
		bit  uint8
	}{{sqlWordList, 1}, {scriptWordList, 2}, {fileWordList, 4}} {
		for _, w := range strings.Split(l.list, "|") {
			t[w[0]] = append(t[w[0]], keyword{w, l.bit})
		}
	}
	return t
}

// keywords returns the trigger bits of the keywords found in v.
func (in *Inspector) keywords(v []byte) uint8 {
	var m uint8
	for i := 0; i < len(v); i++ {
		for _, k := range in.kw[v[i]] {
			if m&k.bit == 0 && len(v)-i >= len(k.word) && string(v[i:i+len(k.word)]) == k.word {
				m |= k.bit
			}
		}
	}
	return m
}

// shellWords are the commands injections run first (recon, download,
// shells), each followed in cmdChain by a word boundary.
const shellWords = "cat|ls|id|whoami|uname|wget|curl|nc|ncat|netcat|bash|sh|zsh|python|python2|python3|perl|ping|nslookup|powershell|cmd|cmd.exe|busybox|chmod|rm|sleep|telnet|tftp|ifconfig|ipconfig|net"

// cmdChain finds a shell separator (; | || & && newline ` $( ) followed by
// one of shellWords as a whole word: "x;cat /etc/passwd", "|| whoami",
// "$(wget …)". Written out because the equivalent unanchored regexp
// backtracks at every separator of an ordinary User-Agent.
func cmdChain(v []byte) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		j := i + 1
		switch c {
		case ';', '\n', '`':
		case '|', '&':
			if j < len(v) && v[j] == c {
				j++
			}
		case '$':
			if j >= len(v) || v[j] != '(' {
				continue
			}
			j++
		default:
			continue
		}
		for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
			j++
		}
		rest := v[j:]
		words := shellWords
		for len(words) > 0 {
			w := words
			if k := strings.IndexByte(words, '|'); k >= 0 {
				w, words = words[:k], words[k+1:]
			} else {
				words = ""
			}
			if len(rest) < len(w) || string(rest[:len(w)]) != w {
				continue
			}
			if len(rest) == len(w) {
				return true
			}
			switch rest[len(w)] {
			case ' ', '\t', ';', '|', '&', '<', '>', '`', ')', '\n':
				return true
			}
		}
	}
	return false
}

// validName says, without allocating, whether a raw parameter name
// decodes to a name (see paramName).
func validName(raw []byte) bool {
	var buf [3 * maxNameLen]byte
	if len(raw) == 0 || len(raw) > len(buf) {
		return false
	}
	d := percentDecode(buf[:0], raw, true)
	if len(d) == 0 || len(d) > maxNameLen {
		return false
	}
	for _, c := range d {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' ||
			c == '.' || c == '[' || c == ']' || c == '$' || c == ':') {
			return false
		}
	}
	return true
}
