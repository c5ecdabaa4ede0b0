package httpproto

import (
	"bytes"
	"errors"
)

// maxHeaderBlock bounds a start line plus header fields. Real clients and
// servers stay far below it (most servers refuse 8–16 KiB); a longer block
// is an attack or not HTTP, and the session stops (counted in the summary).
const maxHeaderBlock = 32 << 10

// maxContentLength is the largest Content-Length taken at face value;
// beyond it the framing is treated as malformed rather than risking
// overflow in skip arithmetic.
const maxContentLength = 1 << 50

var (
	errMalformed = errors.New("malformed HTTP message head")
	errTooLong   = errors.New("HTTP header block too long")
)

// head is a parsed start line and the header fields heir uses. Byte slices
// point into the parsed buffer and are valid only as long as it is; the
// session converts what it keeps into strings.
type head struct {
	// request line
	method []byte
	target []byte
	// status line
	status int
	reason []byte
	// minor is the x in HTTP/1.x.
	minor byte

	host            []byte
	userAgent       []byte
	contentType     []byte
	contentEncoding []byte
	accept          []byte
	server          []byte
	auth            []byte // Authorization
	proxyAuth       []byte // Proxy-Authorization
	wwwAuth         [maxChallenges][]byte
	nWWWAuth        int

	// contentLength is -1 when absent.
	contentLength int64
	// chunked: the last transfer coding is chunked. teOther: a
	// Transfer-Encoding without chunked last.
	chunked, teOther bool
	upgrade          bool
}

// maxChallenges bounds the WWW-Authenticate fields kept per response.
const maxChallenges = 4

func (h *head) reset() {
	*h = head{contentLength: -1}
}

// parseRequestHead parses a request line and header fields from the start
// of b. It returns the length of the head including the blank line, 0 and
// nil when b does not yet hold all of it, or an error.
func parseRequestHead(b []byte, h *head) (int, error) {
	h.reset()
	pos := skipBlankLines(b)
	line, next, err := nextLine(b, pos)
	if err != nil || next == 0 {
		return 0, err
	}
	sp := bytes.IndexByte(line, ' ')
	last := bytes.LastIndexByte(line, ' ')
	if sp <= 0 || last <= sp {
		return 0, errMalformed
	}
	h.method = line[:sp]
	if !isToken(h.method) || len(h.method) > 24 {
		return 0, errMalformed
	}
	h.target = trimOWS(line[sp+1 : last])
	if len(h.target) == 0 {
		return 0, errMalformed
	}
	minor, ok := parseVersion(line[last+1:])
	if !ok {
		return 0, errMalformed
	}
	h.minor = minor
	return parseFields(b, next, h)
}

// parseResponseHead is parseRequestHead for a status line.
func parseResponseHead(b []byte, h *head) (int, error) {
	h.reset()
	pos := skipBlankLines(b)
	line, next, err := nextLine(b, pos)
	if err != nil || next == 0 {
		return 0, err
	}
	if len(line) < 12 {
		return 0, errMalformed
	}
	minor, ok := parseVersion(line[:8])
	if !ok || line[8] != ' ' {
		return 0, errMalformed
	}
	h.minor = minor
	code := line[9:12]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] < '1' || code[0] > '5' {
		return 0, errMalformed
	}
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if len(line) > 12 {
		if line[12] != ' ' {
			return 0, errMalformed
		}
		h.reason = bytes.TrimSpace(line[13:])
	}
	return parseFields(b, next, h)
}

// skipBlankLines skips the stray CRLFs some clients send between
// pipelined messages (RFC 9112 section 2.2 asks servers to ignore them).
func skipBlankLines(b []byte) int {
	pos := 0
	for pos < len(b) && pos < 8 && (b[pos] == '\r' || b[pos] == '\n') {
		pos++
	}
	return pos
}

// nextLine returns the line starting at pos without its line ending and
// the position after it; next is 0 when the line is not complete yet.
func nextLine(b []byte, pos int) (line []byte, next int, err error) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 {
		if len(b) > maxHeaderBlock {
			return nil, 0, errTooLong
		}
		return nil, 0, nil
	}
	end := pos + i
	if end+1 > maxHeaderBlock {
		return nil, 0, errTooLong
	}
	line = b[pos:end]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, end + 1, nil
}

func parseVersion(v []byte) (byte, bool) {
	if len(v) != 8 || string(v[:7]) != "HTTP/1." || !isDigit(v[7]) {
		return 0, false
	}
	return v[7] - '0', true
}

// parseFields reads header fields from pos to the blank line.
func parseFields(b []byte, pos int, h *head) (int, error) {
	for {
		line, next, err := nextLine(b, pos)
		if err != nil || next == 0 {
			return 0, err
		}
		pos = next
		if len(line) == 0 {
			return pos, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold continuation: no field heir reads is folded in
			// practice, so the continuation is ignored.
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			// Tolerated like most servers do: a garbage line does not
			// make the rest of the message unreadable.
			continue
		}
		name := line[:colon]
		value := trimOWS(line[colon+1:])
		if err := h.field(name, value); err != nil {
			return 0, err
		}
	}
}

func (h *head) field(name, value []byte) error {
	switch len(name) {
	case 4:
		if bytes.EqualFold(name, []byte("host")) && h.host == nil {
			h.host = value
		}
	case 6:
		if bytes.EqualFold(name, []byte("server")) {
			h.server = value
		} else if bytes.EqualFold(name, []byte("accept")) {
			h.accept = value
		}
	case 7:
		if bytes.EqualFold(name, []byte("upgrade")) {
			h.upgrade = true
		}
	case 10:
		if bytes.EqualFold(name, []byte("user-agent")) {
			h.userAgent = value
		}
	case 12:
		if bytes.EqualFold(name, []byte("content-type")) {
			h.contentType = value
		}
	case 13:
		if bytes.EqualFold(name, []byte("authorization")) {
			h.auth = value
		}
	case 14:
		if bytes.EqualFold(name, []byte("content-length")) {
			return h.setLength(value)
		}
	case 16:
		if bytes.EqualFold(name, []byte("www-authenticate")) && h.nWWWAuth < maxChallenges {
			h.wwwAuth[h.nWWWAuth] = value
			h.nWWWAuth++
		} else if bytes.EqualFold(name, []byte("content-encoding")) {
			h.contentEncoding = value
		}
	case 17:
		if bytes.EqualFold(name, []byte("transfer-encoding")) {
			h.setTransferEncoding(value)
		}
	case 18:
		if bytes.EqualFold(name, []byte("proxy-authenticate")) && h.nWWWAuth < maxChallenges {
			h.wwwAuth[h.nWWWAuth] = value
			h.nWWWAuth++
		}
	case 19:
		if bytes.EqualFold(name, []byte("proxy-authorization")) {
			h.proxyAuth = value
		}
	}
	return nil
}

// setLength accepts a Content-Length, including the "5, 5" list form;
// differing values make the framing ambiguous (a smuggling vector), which
// is malformed.
func (h *head) setLength(v []byte) error {
	for len(v) > 0 {
		var part []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			part, v = bytes.TrimSpace(v[:i]), v[i+1:]
		} else {
			part, v = bytes.TrimSpace(v), nil
		}
		if len(part) == 0 {
			continue
		}
		var n int64
		for _, c := range part {
			if !isDigit(c) {
				return errMalformed
			}
			n = n*10 + int64(c-'0')
			if n > maxContentLength {
				return errMalformed
			}
		}
		if h.contentLength >= 0 && h.contentLength != n {
			return errMalformed
		}
		h.contentLength = n
	}
	return nil
}

// setTransferEncoding records whether the final transfer coding is
// chunked; a later field overrides an earlier one, as if they were joined.
func (h *head) setTransferEncoding(v []byte) {
	last := v
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		last = v[i+1:]
	}
	last = bytes.TrimSpace(last)
	if i := bytes.IndexByte(last, ';'); i >= 0 {
		last = bytes.TrimSpace(last[:i])
	}
	h.chunked = bytes.EqualFold(last, []byte("chunked"))
	h.teOther = !h.chunked
}

// trimOWS strips optional whitespace (SP, HTAB) from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isToken reports whether b is an RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChar(c) {
			return false
		}
	}
	return true
}

func tokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
