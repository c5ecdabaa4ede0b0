package httpproto

import (
	"bytes"
	"unicode/utf8"
)

// Bounds on what a request observation keeps of the target.
const (
	maxPathLen  = 256 // bytes of decoded path
	maxParams   = 16  // distinct query parameter names
	maxParamLen = 64  // bytes of one parameter name
	maxSegments = 16  // path segments examined for FHIR shape
)

// splitTarget returns the path and raw query of a request target in any
// of the four forms. The path is empty for authority-form (CONNECT) and
// for an absolute-form target without one (which means "/").
func splitTarget(method string, t []byte) (path, query []byte) {
	if i := bytes.IndexByte(t, '#'); i >= 0 {
		t = t[:i]
	}
	if method == "CONNECT" {
		return nil, nil
	}
	if len(t) > 0 && t[0] != '/' && t[0] != '*' {
		// absolute-form: drop scheme and authority.
		if i := bytes.Index(t, []byte("://")); i >= 0 {
			t = t[i+3:]
			j := bytes.IndexAny(t, "/?")
			switch {
			case j < 0:
				return nil, nil
			case t[j] == '?':
				return nil, t[j+1:]
			}
			t = t[j:]
		}
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, nil
}

// appendUnescaped appends s with %XX escapes decoded (and '+' as a space
// when form is set, as in query components). Malformed escapes are kept
// as they are, since the path is evidence and must not be "repaired".
func appendUnescaped(dst, s []byte, form bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s):
			hi, ok1 := isHex(s[i+1])
			lo, ok2 := isHex(s[i+2])
			if ok1 && ok2 {
				dst = append(dst, hi<<4|lo)
				i += 2
				continue
			}
		case c == '+' && form:
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

// cleanString turns bytes from the wire into a printable, valid UTF-8
// string of at most max bytes: control characters and invalid UTF-8
// become U+FFFD. truncated says whether anything was cut.
func cleanString(b []byte, max int) (string, bool) {
	truncated := false
	if len(b) > max {
		cut := 0
		for cut < len(b) {
			_, size := utf8.DecodeRune(b[cut:])
			if cut+size > max {
				break
			}
			cut += size
		}
		b, truncated = b[:cut], true
	}
	clean := true
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				clean = false
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return string(b), truncated
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return string(out), truncated
}

// paramNames calls fn with the decoded name of each query component, in
// order, without allocating; values are never looked at.
func paramNames(query []byte, scratch []byte, fn func(name []byte)) {
	for n := 0; len(query) > 0 && n < 256; n++ {
		var comp []byte
		if i := bytes.IndexByte(query, '&'); i >= 0 {
			comp, query = query[:i], query[i+1:]
		} else {
			comp, query = query, nil
		}
		if i := bytes.IndexByte(comp, '='); i >= 0 {
			comp = comp[:i]
		}
		if len(comp) == 0 || len(comp) > 3*maxParamLen {
			continue
		}
		fn(appendUnescaped(scratch[:0], comp, true))
	}
}

// paramNameOK says whether a decoded query component name looks like a
// parameter name rather than data. A component without "=" (“?12345”,
// “?john.doe@example.org”) is a value in disguise; keeping only
// identifier-shaped names keeps PHI out while still naming the fields a
// request used (FHIR modifiers and chains such as "_has:Observation:code"
// or "subject:Patient.name" pass).
func paramNameOK(n []byte) bool {
	if len(n) == 0 || len(n) > maxParamLen {
		return false
	}
	c := n[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$') {
		return false
	}
	digits := 0
	for _, c := range n {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == '.' ||
			c == ':' || c == '[' || c == ']' || c == '$':
		case isDigit(c):
			digits++
		default:
			return false
		}
	}
	// Long digit runs are identifiers (MRNs, phone numbers), not names.
	return digits <= 8
}
