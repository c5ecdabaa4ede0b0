package httpproto

import (
	"bytes"
	"net/netip"
)

// windowsNT maps the "Windows NT x.y" token of a User-Agent to the
// release. NT 10.0 is sent by both Windows 10 and 11.
var windowsNT = []struct{ token, os string }{
	{"Windows NT 10.0", "Windows 10/11"},
	{"Windows NT 6.3", "Windows 8.1"},
	{"Windows NT 6.2", "Windows 8"},
	{"Windows NT 6.1", "Windows 7"},
	{"Windows NT 6.0", "Windows Vista"},
	{"Windows NT 5.2", "Windows XP x64/Server 2003"},
	{"Windows NT 5.1", "Windows XP"},
	{"Windows NT 5.0", "Windows 2000"},
}

// iisOS maps Microsoft-IIS versions to the Windows release that shipped
// them (IIS is not installable on another).
var iisOS = []struct{ version, os string }{
	{"5.0", "Windows 2000"},
	{"5.1", "Windows XP"},
	{"6.0", "Windows Server 2003"},
	{"7.0", "Windows Server 2008"},
	{"7.5", "Windows Server 2008 R2"},
	{"8.0", "Windows Server 2012"},
	{"8.5", "Windows Server 2012 R2"},
	{"10.0", "Windows Server 2016 or later"},
}

// distros are Linux distribution names that servers (Apache, nginx
// builds) and some user agents put in parentheses.
var distros = []struct{ token, os string }{
	{"Ubuntu", "Ubuntu"},
	{"Debian", "Debian"},
	{"Raspbian", "Raspbian"},
	{"CentOS", "CentOS"},
	{"Red Hat", "Red Hat Enterprise Linux"},
	{"Fedora", "Fedora"},
	{"SUSE", "SUSE Linux"},
}

// osFromUserAgent returns the operating system a User-Agent names, or ""
// when it does not clearly name one.
func osFromUserAgent(ua []byte) string {
	for _, w := range windowsNT {
		if bytes.Contains(ua, []byte(w.token)) {
			return w.os
		}
	}
	if bytes.Contains(ua, []byte("Windows CE")) {
		return "Windows CE"
	}
	if v := versionAfter(ua, "Android "); v != "" {
		return "Android " + v
	}
	if bytes.Contains(ua, []byte("Android")) {
		return "Android"
	}
	for _, tok := range []string{"iPhone OS ", "CPU OS "} {
		if v := versionAfter(ua, tok); v != "" {
			return "iOS " + v
		}
	}
	if v := versionAfter(ua, "Mac OS X "); v != "" {
		return "macOS " + v
	}
	if bytes.Contains(ua, []byte("CrOS ")) {
		return "ChromeOS"
	}
	for _, d := range distros {
		if bytes.Contains(ua, []byte(d.token)) {
			return d.os
		}
	}
	if bytes.Contains(ua, []byte("Linux")) {
		return "Linux"
	}
	return ""
}

// osFromServer returns the operating system a Server header names, or "".
func osFromServer(s []byte) string {
	if i := bytes.Index(s, []byte("Microsoft-IIS/")); i >= 0 {
		v := s[i+len("Microsoft-IIS/"):]
		for _, m := range iisOS {
			if bytes.HasPrefix(v, []byte(m.version)) && (len(v) == len(m.version) || !isDigit(v[len(m.version)])) {
				return m.os
			}
		}
		return "Windows"
	}
	if bytes.Contains(s, []byte("Microsoft-HTTPAPI/")) || bytes.Contains(s, []byte("(Win32)")) ||
		bytes.Contains(s, []byte("(Win64)")) || bytes.Contains(s, []byte("(Windows)")) {
		return "Windows"
	}
	for _, d := range distros {
		// "Apache/2.4.41 (Ubuntu)": the distribution in parentheses.
		if i := bytes.Index(s, []byte(d.token)); i > 0 && s[i-1] == '(' {
			return d.os
		}
	}
	return ""
}

// versionAfter returns the dotted version following tok ("10_8_5" becomes
// "10.8.5"), or "".
func versionAfter(b []byte, tok string) string {
	i := bytes.Index(b, []byte(tok))
	if i < 0 {
		return ""
	}
	v := b[i+len(tok):]
	n := 0
	for n < len(v) && n < 16 && (isDigit(v[n]) || v[n] == '_' || v[n] == '.') {
		n++
	}
	for n > 0 && (v[n-1] == '_' || v[n-1] == '.') {
		n--
	}
	if n == 0 || !isDigit(v[0]) {
		return ""
	}
	out := []byte(string(v[:n]))
	for k, c := range out {
		if c == '_' {
			out[k] = '.'
		}
	}
	return string(out)
}

// hostName returns the lower-case DNS name in a Host header value, or ""
// when it is an address literal, localhost or not a plausible name.
func hostName(h []byte) string {
	if len(h) == 0 || h[0] == '[' {
		return ""
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		port := h[i+1:]
		for _, c := range port {
			if !isDigit(c) {
				return ""
			}
		}
		h = h[:i]
	}
	h = bytes.TrimSuffix(h, []byte("."))
	if len(h) == 0 || len(h) > 253 {
		return ""
	}
	letter := false
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		case isDigit(c) || c == '-' || c == '.' || c == '_':
		default:
			return ""
		}
	}
	if !letter {
		return ""
	}
	if _, err := netip.ParseAddr(string(h)); err == nil {
		return ""
	}
	name := string(bytes.ToLower(h))
	if name == "localhost" {
		return ""
	}
	return name
}
