package mqtt

import "unicode/utf8"

// Control packet types (MQTT 3.1.1 §2.2.1, MQTT 5 §2.1.2).
const (
	typConnect     = 1
	typConnack     = 2
	typPublish     = 3
	typPuback      = 4
	typPubrec      = 5
	typPubrel      = 6
	typPubcomp     = 7
	typSubscribe   = 8
	typSuback      = 9
	typUnsubscribe = 10
	typUnsuback    = 11
	typPingreq     = 12
	typPingresp    = 13
	typDisconnect  = 14
	typAuth        = 15
)

// typeName is a packet type's lower-case name, as the summary counts it.
func typeName(t byte) string {
	switch t {
	case typConnect:
		return "connect"
	case typConnack:
		return "connack"
	case typPublish:
		return "publish"
	case typPuback:
		return "puback"
	case typPubrec:
		return "pubrec"
	case typPubrel:
		return "pubrel"
	case typPubcomp:
		return "pubcomp"
	case typSubscribe:
		return "subscribe"
	case typSuback:
		return "suback"
	case typUnsubscribe:
		return "unsubscribe"
	case typUnsuback:
		return "unsuback"
	case typPingreq:
		return "pingreq"
	case typPingresp:
		return "pingresp"
	case typDisconnect:
		return "disconnect"
	case typAuth:
		return "auth"
	}
	return "reserved"
}

// validFlags says whether a fixed header's flags are allowed for its type:
// PUBLISH carries DUP, QoS (not 3) and RETAIN; PUBREL, SUBSCRIBE and
// UNSUBSCRIBE must carry 0010; every other type 0000.
func validFlags(typ, flags byte) bool {
	switch typ {
	case 0:
		return false
	case typPublish:
		return flags&0x6 != 0x6
	case typPubrel, typSubscribe, typUnsubscribe:
		return flags == 2
	}
	return flags == 0
}

type lenStatus uint8

const (
	lenOK lenStatus = iota
	lenShort
	lenBad
)

// remainingLength decodes the variable-length Remaining Length at the start
// of b: its value, how many bytes it took, and whether b held it whole. More
// than four bytes is malformed. With minimal set, a longer encoding than
// needed is malformed too (MQTT 5 requires the shortest).
func remainingLength(b []byte, minimal bool) (int, int, lenStatus) {
	v, mul := 0, 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, lenShort
		}
		c := b[i]
		v += int(c&0x7f) * mul
		if c&0x80 == 0 {
			if minimal && i > 0 && c == 0 {
				return 0, 0, lenBad
			}
			return v, i + 1, lenOK
		}
		mul <<= 7
	}
	return 0, 0, lenBad
}

// reader reads MQTT's encoded fields from a packet body. A read past the
// end sets bad and returns zero values, so a parser checks once at the end.
type reader struct {
	b   []byte
	off int
	bad bool
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) u8() byte {
	if r.left() < 1 {
		r.bad = true
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) u16() int {
	if r.left() < 2 {
		r.bad = true
		r.off = len(r.b)
		return 0
	}
	v := int(r.b[r.off])<<8 | int(r.b[r.off+1])
	r.off += 2
	return v
}

// bytes returns the next n bytes.
func (r *reader) bytes(n int) []byte {
	if n < 0 || r.left() < n {
		r.bad = true
		r.off = len(r.b)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

// str returns a length-prefixed string or binary field.
func (r *reader) str() []byte { return r.bytes(r.u16()) }

// skip passes n bytes.
func (r *reader) skip(n int) { r.bytes(n) }

// varint reads a Variable Byte Integer (MQTT 5 property lengths).
func (r *reader) varint() int {
	if r.bad {
		return 0
	}
	v, n, st := remainingLength(r.b[r.off:], false)
	if st != lenOK {
		r.bad = true
		r.off = len(r.b)
		return 0
	}
	r.off += n
	return v
}

// skipProps passes an MQTT 5 property list by its length.
func (r *reader) skipProps() { r.skip(r.varint()) }

// validTopic says whether b may be a topic name (no wildcards) or, with
// filter set, a topic filter: valid UTF-8 without control characters.
func validTopic(b []byte, filter bool) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return false
		}
		if !filter && (c == '+' || c == '#') {
			return false
		}
	}
	return true
}

// maxText bounds every string taken from the wire.
const maxText = 256

// text makes wire bytes printable: at most maxText bytes, control
// characters and invalid UTF-8 replaced by '?'.
func text(b []byte) string {
	if len(b) > maxText {
		b = b[:maxText]
	}
	clean := true
	for _, c := range b {
		if c < ' ' || c == 0x7f || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if (r == utf8.RuneError && n <= 1) || r < ' ' || r == 0x7f {
			out = append(out, '?')
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}
