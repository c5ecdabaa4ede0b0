package webattack

import (
	"bytes"
	"unicode/utf8"
)

// normalise decodes a value the way a server would before it reaches SQL,
// a shell or a page, and lower-cases it. The result lives in one of the
// inspector's buffers until the next call.
func (in *Inspector) normalise(raw []byte, form bool) []byte {
	a, b := in.n1[:0], in.n2[:0]
	a = percentDecode(a, raw, form)
	// Double (and triple) encoding: %2527 is %27 is '.
	for pass := 0; pass < 2 && hasEscape(a); pass++ {
		b = percentDecode(b[:0], a, false)
		a, b = b, a
	}
	if bytes.IndexByte(a, '&') >= 0 {
		b = htmlDecode(b[:0], a)
		a, b = b, a
		if hasEscape(a) {
			b = percentDecode(b[:0], a, false)
			a, b = b, a
		}
	}
	// Lower case, NUL bytes out, overlong UTF-8 for ASCII (%c0%af is '/')
	// back to ASCII, SQL comments as a space.
	b = b[:0]
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case c == 0:
			continue
		case (c == 0xc0 || c == 0xc1) && i+1 < len(a) && a[i+1]&0xc0 == 0x80:
			c = (c&0x1f)<<6 | a[i+1]&0x3f
			i++
		case c == '/' && i+1 < len(a) && a[i+1] == '*':
			if end := bytes.Index(a[i+2:], []byte("*/")); end >= 0 {
				// MySQL's /*!50000 select*/ runs its content: keep it.
				inner := a[i+2 : i+2+end]
				if len(inner) > 0 && inner[0] == '!' {
					b = append(b, ' ')
					for _, x := range bytes.TrimLeft(inner[1:], "0123456789") {
						b = append(b, lower(x))
					}
					b = append(b, ' ')
				} else {
					b = append(b, ' ')
				}
				i += 2 + end + 1
				continue
			}
		}
		b = append(b, lower(c))
	}
	a, b = b, a
	if bytes.Contains(a, []byte("${")) {
		a = in.resolveLookups(a)
	}
	in.n1, in.n2 = a[:0], b[:0]
	return a
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// resolveLookups replaces log4j lookups that only spell a default value
// (${lower:j}, ${::-n}, ${env:X:-d}) by that value, innermost first, so
// that ${${lower:j}ndi:…} reads ${jndi:…}. Rare, so it may allocate.
func (in *Inspector) resolveLookups(v []byte) []byte {
	for i := 0; i < 8; i++ {
		next := in.lookup.ReplaceAll(v, []byte("$1$2"))
		if bytes.Equal(next, v) {
			break
		}
		v = next
	}
	return v
}

// hasEscape says whether v still holds a percent escape.
func hasEscape(v []byte) bool {
	for i := 0; i+2 < len(v); i++ {
		if v[i] == '%' {
			if _, ok := hexVal(v[i+1]); ok {
				if _, ok := hexVal(v[i+2]); ok {
					return true
				}
			}
			if (v[i+1] == 'u' || v[i+1] == 'U') && i+5 < len(v) {
				if _, ok := hex4(v[i+2 : i+6]); ok {
					return true
				}
			}
		}
	}
	return false
}

// percentDecode appends the decoding of src to dst: %XX, IIS's %uXXXX,
// and + as space in forms and queries. Bad escapes stay as they are.
func percentDecode(dst, src []byte, form bool) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '+' && form:
			dst = append(dst, ' ')
		case c == '%' && i+2 < len(src):
			if h, ok := hexVal(src[i+1]); ok {
				if l, ok := hexVal(src[i+2]); ok {
					dst = append(dst, h<<4|l)
					i += 2
					continue
				}
			}
			if (src[i+1] == 'u' || src[i+1] == 'U') && i+5 < len(src) {
				if r, ok := hex4(src[i+2 : i+6]); ok {
					dst = utf8.AppendRune(dst, rune(r))
					i += 5
					continue
				}
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// htmlDecode appends src with HTML character references decoded: numeric
// (&#60; &#x3c;, with or without ';') and the named ones attacks use.
func htmlDecode(dst, src []byte) []byte {
	named := [...]struct {
		name string
		c    byte
	}{{"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"amp", '&'}, {"sol", '/'}, {"bsol", '\\'},
		{"lpar", '('}, {"rpar", ')'}, {"colon", ':'}, {"semi", ';'}, {"equals", '='}, {"tab", '\t'}, {"newline", '\n'}}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '&' || i+2 >= len(src) {
			dst = append(dst, c)
			continue
		}
		rest := src[i+1:]
		if rest[0] == '#' {
			j, v, ok := 1, 0, false
			hexa := j < len(rest) && (rest[j] == 'x' || rest[j] == 'X')
			if hexa {
				j++
			}
			digits := 0
			for j < len(rest) && digits < 8 {
				var d byte
				var good bool
				if hexa {
					d, good = hexVal(rest[j])
				} else if rest[j] >= '0' && rest[j] <= '9' {
					d, good = rest[j]-'0', true
				}
				if !good {
					break
				}
				if hexa {
					v = v<<4 | int(d)
				} else {
					v = v*10 + int(d)
				}
				j++
				digits++
				ok = true
			}
			if ok && v > 0 && v <= utf8.MaxRune {
				if j < len(rest) && rest[j] == ';' {
					j++
				}
				dst = utf8.AppendRune(dst, rune(v))
				i += j
				continue
			}
			dst = append(dst, c)
			continue
		}
		matched := false
		for _, n := range named {
			if len(rest) > len(n.name) && string(rest[:len(n.name)]) == n.name && rest[len(n.name)] == ';' {
				dst = append(dst, n.c)
				i += len(n.name) + 1
				matched = true
				break
			}
		}
		if !matched {
			dst = append(dst, c)
		}
	}
	return dst
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func hex4(b []byte) (int, bool) {
	if len(b) < 4 {
		return 0, false
	}
	v := 0
	for _, c := range b[:4] {
		d, ok := hexVal(c)
		if !ok {
			return 0, false
		}
		v = v<<4 | int(d)
	}
	return v, true
}

// paramName returns the decoded name of a parameter, header or key when it
// looks like one (letters, digits, _-.[]$: and at most maxNameLen bytes),
// else "": a name made of anything else could be a value in disguise.
func paramName(raw []byte) string {
	var buf [3 * maxNameLen]byte
	if len(raw) > len(buf) {
		return ""
	}
	d := percentDecode(buf[:0], raw, true)
	if len(d) == 0 || len(d) > maxNameLen {
		return ""
	}
	for _, c := range d {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' ||
			c == '.' || c == '[' || c == ']' || c == '$' || c == ':') {
			return ""
		}
	}
	return string(d)
}

func containsFold(s []byte, sub string) bool {
	if len(sub) == 0 {
		return true
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if bytes.EqualFold(s[i:i+len(sub)], []byte(sub)) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s []byte, p string) bool {
	return len(s) >= len(p) && bytes.EqualFold(s[:len(p)], []byte(p))
}
