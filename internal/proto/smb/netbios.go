package smb

import (
	"strings"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// SessionRequest is the detail of a "session-request" observation: the
// NetBIOS session request (port 139) naming the server the client calls
// and the client itself.
type SessionRequest struct {
	Called        string `json:"called"`
	CalledSuffix  string `json:"called_suffix"`
	Calling       string `json:"calling"`
	CallingSuffix string `json:"calling_suffix"`
}

// netbiosName decodes one first-level encoded NetBIOS name (RFC 1001
// section 14.1): a 32-byte label of letters A–P, two per byte, then the
// scope's labels. It returns the name without its padding, the suffix
// byte (the service type) and the bytes taken.
func netbiosName(b []byte) (string, int, bool) {
	if len(b) < 34 || b[0] != 32 {
		return "", 0, false
	}
	var raw [16]byte
	for i := 0; i < 16; i++ {
		hi, lo := b[1+2*i]-'A', b[2+2*i]-'A'
		if hi > 15 || lo > 15 {
			return "", 0, false
		}
		raw[i] = hi<<4 | lo
	}
	// Skip the scope: labels up to the root.
	n := 33
	for steps := 0; ; steps++ {
		if n >= len(b) || steps > 64 {
			return "", 0, false
		}
		l := int(b[n])
		n++
		if l == 0 {
			break
		}
		if l > 63 {
			return "", 0, false
		}
		n += l
	}
	name := strings.TrimRight(oem(raw[:15]), " ")
	return name, n, true
}

// suffix returns the service byte of an encoded name in hex.
func suffix(b []byte) string {
	v := (b[31]-'A')<<4 | (b[32] - 'A')
	return string([]byte{hexDigits[v>>4], hexDigits[v&15]})
}

const hexDigits = "0123456789abcdef"

func (s *session) sessionRequest(dir proto.Dir, body []byte, m proto.Meta) {
	called, n, ok := netbiosName(body)
	if !ok {
		return
	}
	calling, _, ok := netbiosName(body[n:])
	if !ok {
		return
	}
	r := &SessionRequest{Called: called, CalledSuffix: suffix(body), Calling: calling, CallingSuffix: suffix(body[n:])}
	o := s.conn.Observation(dir, "session-request", m)
	o.Detail = r
	o.Facts = s.roleFacts(dir, nil)
	// Generic names ("*SMBSERVER") name nobody.
	if calling != "" && !strings.HasPrefix(calling, "*") {
		o.Facts = append(o.Facts, event.Fact{About: event.AboutSrc, Attr: event.AttrHostname, Value: calling, Confidence: 0.8})
	}
	if called != "" && !strings.HasPrefix(called, "*") {
		o.Facts = append(o.Facts, event.Fact{About: event.AboutDst, Attr: event.AttrHostname, Value: called, Confidence: 0.7})
	}
	s.out.Observe(o)
}
