package smb

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxString bounds every string taken from a message.
const maxString = 256

// oem decodes a single-byte string: ASCII kept, other bytes (code-page
// dependent) and control bytes replaced, so that hostile names cannot
// forge log lines or terminal escapes.
func oem(b []byte) string {
	if len(b) > maxString {
		b = b[:maxString]
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			c = '?'
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// utf16le decodes a little-endian UTF-16 string, replacing control
// characters and unpaired surrogates.
func utf16le(b []byte) string {
	if len(b) > 2*maxString {
		b = b[:2*maxString]
	}
	var sb strings.Builder
	sb.Grow(len(b) / 2)
	for i := 0; i+1 < len(b); i += 2 {
		r := rune(b[i]) | rune(b[i+1])<<8
		if utf16.IsSurrogate(r) && i+3 < len(b) {
			r2 := rune(b[i+2]) | rune(b[i+3])<<8
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				sb.WriteRune(d)
				i += 2
				continue
			}
		}
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || utf16.IsSurrogate(r) {
			r = '?'
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// cstring reads a NUL-terminated string at b (UTF-16LE when unicode) and
// returns it with the bytes taken, terminator included. A string without
// terminator runs to the end of b.
func cstring(b []byte, unicode bool) (string, int) {
	if unicode {
		for i := 0; i+1 < len(b); i += 2 {
			if b[i] == 0 && b[i+1] == 0 {
				return utf16le(b[:i]), i + 2
			}
		}
		return utf16le(b), len(b)
	}
	for i, c := range b {
		if c == 0 {
			return oem(b[:i]), i + 1
		}
	}
	return oem(b), len(b)
}
