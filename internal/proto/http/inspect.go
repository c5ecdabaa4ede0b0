package httpproto

import (
	"github.com/heir-emd/heir/internal/proto"
)

// RequestInspector looks at the raw bytes of a request for attacks (SQL
// injection, path traversal …) on behalf of a detector. The session keeps
// no query values or bodies, so the detector must see them while they
// pass: InspectRequest is called synchronously, and r and every slice in
// it are valid only during the call — the inspector must not keep them.
// It appends its verdicts to dst and returns it; a verdict names the
// parameter or header, never its value, since values carry patient data
// and secrets.
//
// A request is inspected once when its head has been parsed, with as much
// of the body as had arrived with it. When the body (up to its first 4
// KiB) came later, or was chunked, the inspector is called a second time
// with BodyOnly set and only Body, Method and ContentType filled in.
//
// The inspector runs on the sensor's goroutine: it must be quick and
// bounded (see internal/detect/webattack).
type RequestInspector interface {
	InspectRequest(c *proto.Conn, r *RawRequest, dst []Attack) []Attack
}

// RawRequest is a request as it travelled, for the inspector only.
type RawRequest struct {
	// Method is the request method.
	Method string
	// Target is the request target exactly as sent (path and query, not
	// decoded).
	Target []byte
	// Head is the whole head: request line and header fields.
	Head []byte
	// ContentType is the Content-Type field value as sent.
	ContentType []byte
	// Body is the start of the body (at most 4 KiB, de-chunked on a
	// BodyOnly call); nil when the request has none or it did not arrive
	// with the head.
	Body []byte
	// BodyOnly marks the second call for a body that followed its head.
	BodyOnly bool
}

// Attack is an inspector's verdict on a request, attached to the request
// observation's detail (`attacks`).
type Attack struct {
	// Class is the kind of attack: sqli, xss, path-traversal,
	// command-injection, jndi-injection.
	Class string `json:"class"`
	// Rule is the id of the pattern that matched.
	Rule string `json:"rule"`
	// Where is the part of the request: path, query, header, body.
	Where string `json:"where"`
	// Param is the name of the query or form parameter, header or JSON
	// key that carried it; never its value.
	Param string `json:"param,omitempty"`
}

// maxAttacks bounds the verdicts kept per request.
const maxAttacks = 8

// Option configures the dissector.
type Option func(*Dissector)

// WithInspector has every request inspected by i (nil: none).
func WithInspector(i RequestInspector) Option {
	return func(d *Dissector) { d.inspector = i }
}

// inspectHead runs the inspector on a request whose head was just parsed.
// rest is what followed the head in the data at hand. It returns the
// verdicts (a fresh slice, nil when none) and whether the body must be
// collected for a second, body-only call.
func (s *session) inspectHead(method string, head, rest []byte) ([]Attack, bool) {
	h := &s.hd
	var body []byte
	pending := false
	switch {
	case h.teOther:
	case h.chunked:
		pending = true
	case h.contentLength > 0:
		want := min(h.contentLength, int64(sniffSize))
		if int64(len(rest)) >= want {
			body = rest[:want]
		} else {
			pending = true
		}
	}
	if method == "" {
		method = string(h.method)
	}
	s.raw = RawRequest{Method: method, Target: h.target, Head: head, ContentType: h.contentType, Body: body}
	s.atk = s.inspector.InspectRequest(s.conn, &s.raw, s.atk[:0])
	s.raw = RawRequest{}
	return s.takeAttacks(), pending
}

// inspectBody runs the inspector on a body collected after its head.
func (s *session) inspectBody(msg *message, body []byte) []Attack {
	s.raw = RawRequest{Method: msg.method, ContentType: msg.ctype, Body: body, BodyOnly: true}
	s.atk = s.inspector.InspectRequest(s.conn, &s.raw, s.atk[:0])
	s.raw = RawRequest{}
	return s.takeAttacks()
}

// takeAttacks copies the inspector's verdicts out of the reused buffer,
// without duplicates and within the bound.
func (s *session) takeAttacks() []Attack {
	if len(s.atk) == 0 {
		return nil
	}
	var out []Attack
	for _, a := range s.atk {
		if len(out) == maxAttacks {
			break
		}
		a.Param, _ = cleanString([]byte(a.Param), maxParamLen)
		dup := false
		for _, b := range out {
			if a == b {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	clear(s.atk)
	s.atk = s.atk[:0]
	return out
}

// addAttacks puts verdicts on a request observation's detail.
func addAttacks(d *Request, more []Attack) {
	for _, a := range more {
		if len(d.Attacks) == maxAttacks {
			return
		}
		dup := false
		for _, b := range d.Attacks {
			if a == b {
				dup = true
				break
			}
		}
		if !dup {
			d.Attacks = append(d.Attacks, a)
		}
	}
}
