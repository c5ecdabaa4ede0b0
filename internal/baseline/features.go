package baseline

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto/hl7"
	httpproto "github.com/heir-emd/heir/internal/proto/http"
	"github.com/heir-emd/heir/internal/proto/mqtt"
)

// Rule ids of the alerts, one per feature kind. An incident is one device
// and one of these.
const (
	RuleNewDevice   = "baseline-new-device"
	RuleNewPeer     = "baseline-new-peer"
	RuleNewService  = "baseline-new-service"
	RuleNewMessage  = "baseline-new-message"
	RuleNewMAC      = "baseline-new-mac"
	RuleFlowSize    = "baseline-flow-size"
	RuleFlowRhythm  = "baseline-flow-rhythm"
	RuleBurst       = "baseline-burst"
	RuleVolume      = "baseline-volume"
	categoryAnomaly = "anomaly"
)

// kind indexes a device's incidents.
type kind uint8

const (
	kNewDevice kind = iota
	kNewPeer
	kNewService
	kNewMessage
	kNewMAC
	kFlowSize
	kFlowRhythm
	kBurst
	kVolume
	numKinds
)

var ruleIDs = [numKinds]string{RuleNewDevice, RuleNewPeer, RuleNewService, RuleNewMessage, RuleNewMAC,
	RuleFlowSize, RuleFlowRhythm, RuleBurst, RuleVolume}

// Rules lists the rule ids of baseline alerts.
func Rules() []string { return append([]string(nil), ruleIDs[:]...) }

func (k kind) numeric() bool { return k >= kFlowSize }

// maxLabel bounds the text of one remembered value: topics and message
// types are cut there.
const maxLabel = 96

// ephemeral is where dynamic port ranges start (IANA 49152; Linux 32768):
// servers above it are data channels or callbacks, not services, and are
// keyed by protocol.
const ephemeral = 32768

// serviceKey hashes the service a flow is for, from the device's side:
// role ("client", "server"), transport and port — or the protocol for
// expected data channels (FTP data, with a parent flow) and ephemeral
// ports, whose numbers change every time. It builds no text.
func serviceKey(role string, f *event.Flow) uint64 {
	h := newHasher().str(role).byte(' ').str(f.Transport)
	byProto, port := servicePort(f)
	if byProto {
		return h.byte('/').str(protoOr(f.Proto)).sum()
	}
	if port == 0 {
		return h.sum()
	}
	var b [8]byte
	return h.byte('/').bytes(strconv.AppendUint(b[:0], uint64(port), 10)).sum()
}

// serviceLabel is the text serviceKey hashes.
func serviceLabel(role string, f *event.Flow) string {
	var sb strings.Builder
	sb.WriteString(role)
	sb.WriteByte(' ')
	sb.WriteString(f.Transport)
	byProto, port := servicePort(f)
	switch {
	case byProto:
		sb.WriteByte('/')
		sb.WriteString(protoOr(f.Proto))
	case port != 0:
		sb.WriteByte('/')
		sb.WriteString(strconv.Itoa(int(port)))
	}
	return clip(sb.String())
}

func servicePort(f *event.Flow) (byProto bool, port uint16) {
	port = f.Server.Port
	if f.Transport != "tcp" && f.Transport != "udp" {
		return false, 0
	}
	return f.Parent != "" || port >= ephemeral, port
}

func protoOr(p string) string {
	if p == "" {
		return "unknown"
	}
	return p
}

// peerKey hashes a peer's address (its 16-byte form).
func peerKey(a netip.Addr) uint64 {
	b := a.As16()
	return newHasher().bytes(b[:]).sum()
}

func macKey(mac string) uint64 { return newHasher().str(mac).sum() }

// maxKindItems bounds the message kinds one observation shows (a
// SUBSCRIBE may carry many filters: the first eight speak for it).
const maxKindItems = 8

// kindItem is one message kind of an observation: its hash and the part
// of its text that follows the protocol and kind (a message type, a
// topic).
type kindItem struct {
	key uint64
	sub string
}

// kindKeys fills out with the message kinds an observation shows, from
// the side of its sender (sent) or receiver, and returns how many. It
// builds no text; kindLabel does, for a kind that is new. Summaries are
// skipped: they repeat what the messages said.
func kindKeys(o *event.Observation, sent bool, out *[maxKindItems]kindItem) int {
	if strings.HasSuffix(o.Kind, "summary") {
		return 0
	}
	base := newHasher().str(verb(sent)).byte(' ').str(o.Proto).byte('/').str(o.Kind)
	one := func(n int, sub string) int {
		if len(sub) > maxLabel {
			sub = sub[:maxLabel]
		}
		h := base
		if sub != "" {
			h = h.byte(' ').str(sub)
		}
		out[n] = kindItem{h.sum(), sub}
		return n + 1
	}
	switch d := o.Detail.(type) {
	case *hl7.Detail:
		// The message type (ADT^A01, ORU^R01) for messages, the
		// acknowledgement code (AA, AE, AR) for acknowledgements.
		if o.Kind == hl7.KindAck {
			return one(0, d.AckCode)
		}
		return one(0, d.MessageType)
	case *mqtt.Publish:
		return one(0, d.Topic)
	case *mqtt.Subscribe:
		if len(d.Filters) == 0 {
			return one(0, "")
		}
		n := 0
		for _, f := range d.Filters {
			if n == maxKindItems {
				break
			}
			n = one(n, f.Topic)
		}
		return n
	case *httpproto.Request:
		return one(0, d.Method)
	}
	return one(0, "")
}

func verb(sent bool) string {
	if sent {
		return "sent"
	}
	return "received"
}

// kindLabel is the text of a message kind (what kindKeys hashed, cut to
// maxLabel bytes).
func kindLabel(o *event.Observation, sent bool, sub string) string {
	s := verb(sent) + " " + o.Proto + "/" + o.Kind
	if sub != "" {
		s += " " + sub
	}
	return clip(s)
}

// clip bounds a label (on a UTF-8 boundary) and replaces control
// characters and invalid UTF-8 — a topic or message type comes off the
// wire — so that alerts and the baseline file hold plain text.
func clip(s string) string {
	clean := len(s) <= maxLabel && utf8.ValidString(s)
	if clean {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] == 0x7f {
				clean = false
				break
			}
		}
	}
	if clean {
		return s
	}
	var sb strings.Builder
	for _, c := range s {
		if c == utf8.RuneError || c < 0x20 || c == 0x7f {
			c = '?'
		}
		if sb.Len()+utf8.RuneLen(c) > maxLabel {
			break
		}
		sb.WriteRune(c)
	}
	return sb.String()
}
