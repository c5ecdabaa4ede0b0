package flow

import (
	"math"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
)

// dissection state of a flow
const (
	stateNone       = iota // no dissector for this transport
	stateProbing           // asking dissectors
	stateDissecting        // a session owns the flow
	stateUnknown           // no dissector recognised it
	stateDone              // the session is finished with it
)

// Flow is one bidirectional conversation. Sides are relative to the key:
// side 0 is A→B, side 1 is B→A; clientSide says which side the client
// sends on, so the direction of side s is Dir(s ^ clientSide).
type Flow struct {
	key         Key
	conn        proto.Conn
	clientSide  int
	class       int
	state       uint8
	start, last time.Time
	lastFrame   uint64
	activeStart time.Time
	counts      [2]event.Counts
	flags       [2]uint8
	truncated   bool
	synSeen     bool
	isn         uint32
	fin         [2]bool
	rst         bool
	icmpType    *uint8
	gaps        uint64

	// label and parent are set for a connection a session announced
	// (proto.Expecter): its protocol and the announcing flow.
	label, parent string

	// dissection
	cand      uint64
	probes    int
	dissector proto.Dissector
	session   proto.Session
	streams   [2]stream
	feedOther bool

	feat features

	prev, next *Flow
}

// features accumulates packet sizes and gaps for Features.
type features struct {
	n                uint64
	lenMin, lenMax   uint32
	lenSum, lenSumSq float64
	iatSum, iatSumSq float64
	iatMax           float64
	syn, fin, rst    uint32
	psh, ack, urg    uint32
}

func (f *Flow) dir(side int) proto.Dir { return proto.Dir(side ^ f.clientSide) }

func (f *Flow) wantsData() bool {
	return f.state == stateProbing || f.state == stateDissecting
}

func (f *Flow) closing() bool { return f.rst || (f.fin[0] && f.fin[1]) }

func (f *Flow) closeReason() string {
	if f.rst {
		return "rst"
	}
	return "fin"
}

func (f *Flow) account(p *packet.Packet, side int, ts time.Time, wireLen int, feat bool) {
	c := &f.counts[side]
	c.Packets++
	c.Bytes += uint64(wireLen)
	c.PayloadBytes += uint64(len(p.Payload))
	if p.Truncated {
		f.truncated = true
	}
	if p.Proto == packet.ProtoTCP {
		fl := p.TCPFlags
		f.flags[side] |= fl
		if fl&packet.SYN != 0 && fl&packet.ACK == 0 && !f.synSeen {
			f.synSeen = true
			f.isn = p.Seq
		}
		if fl&packet.FIN != 0 {
			f.fin[side] = true
		}
		if fl&packet.RST != 0 {
			f.rst = true
		}
	}
	if feat {
		f.feat.add(p, ts.Sub(f.last), uint32(wireLen))
	}
	f.last = ts
}

func (a *features) add(p *packet.Packet, iat time.Duration, l uint32) {
	if a.n == 0 || l < a.lenMin {
		a.lenMin = l
	}
	if l > a.lenMax {
		a.lenMax = l
	}
	fl := float64(l)
	a.lenSum += fl
	a.lenSumSq += fl * fl
	if a.n > 0 {
		ms := float64(iat) / float64(time.Millisecond)
		a.iatSum += ms
		a.iatSumSq += ms * ms
		if ms > a.iatMax {
			a.iatMax = ms
		}
	}
	a.n++
	if p.Proto == packet.ProtoTCP {
		t := p.TCPFlags
		a.syn += uint32(t >> 1 & 1)
		a.fin += uint32(t & 1)
		a.rst += uint32(t >> 2 & 1)
		a.psh += uint32(t >> 3 & 1)
		a.ack += uint32(t >> 4 & 1)
		a.urg += uint32(t >> 5 & 1)
	}
}

func (a *features) export() *event.Features {
	if a.n == 0 {
		return nil
	}
	n := float64(a.n)
	out := &event.Features{
		PktLenMin: a.lenMin, PktLenMax: a.lenMax,
		PktLenMean: a.lenSum / n,
		PktLenStd:  math.Sqrt(math.Max(0, a.lenSumSq/n-(a.lenSum/n)*(a.lenSum/n))),
		IATMaxMS:   a.iatMax,
		SYN:        a.syn, FIN: a.fin, RST: a.rst, PSH: a.psh, ACK: a.ack, URG: a.urg,
	}
	if a.n > 1 {
		m := a.iatSum / (n - 1)
		out.IATMeanMS = m
		out.IATStdMS = math.Sqrt(math.Max(0, a.iatSumSq/(n-1)-m*m))
	}
	return out
}

func (f *Flow) record(reason string, feat bool) *event.Flow {
	cs := f.clientSide
	rec := &event.Flow{
		V:         event.Version,
		Type:      event.TypeFlow,
		ID:        f.conn.ID,
		Start:     f.activeStart.UTC(),
		End:       f.last.UTC(),
		Transport: f.conn.Transport.String(),
		VLAN:      f.conn.VLAN,
		Client:    f.conn.Client,
		Server:    f.conn.Server,
		Reason:    reason,
		Counts:    [2]event.Counts{f.counts[cs], f.counts[cs^1]},
		Gaps:      f.gaps,
		Truncated: f.truncated,
		ICMPType:  f.icmpType,
	}
	if f.conn.Transport != proto.TCP && f.conn.Transport != proto.UDP {
		rec.Transport = protoName(uint8(f.conn.Transport))
	}
	if f.dissector != nil {
		rec.Proto = f.dissector.Name()
	} else if f.label != "" {
		rec.Proto, rec.Parent = f.label, f.parent
	}
	if f.conn.Transport == proto.TCP {
		rec.ClientTCP = flagString(f.flags[cs])
		rec.ServerTCP = flagString(f.flags[cs^1])
	}
	if feat {
		rec.Features = f.feat.export()
	}
	return rec
}

func (f *Flow) resetCounters(now time.Time) {
	f.counts = [2]event.Counts{}
	f.flags = [2]uint8{}
	f.feat = features{}
	f.gaps = 0
	f.activeStart = now
}

// flagNames holds the text of every TCP flag combination, so that flow
// records cost no allocation for them.
var flagNames = func() (t [256]string) {
	for i := range t {
		t[i] = formatFlags(uint8(i))
	}
	return t
}()

func flagString(fl uint8) string { return flagNames[fl] }

func formatFlags(fl uint8) string {
	// Order as people read them: S A P F R U E C.
	order := [...]struct {
		bit    uint8
		letter byte
	}{{packet.SYN, 'S'}, {packet.ACK, 'A'}, {packet.PSH, 'P'}, {packet.FIN, 'F'}, {packet.RST, 'R'}, {packet.URG, 'U'}, {packet.ECE, 'E'}, {packet.CWR, 'C'}}
	var b []byte
	for _, o := range order {
		if fl&o.bit != 0 {
			b = append(b, o.letter)
		}
	}
	return string(b)
}

func protoName(p uint8) string {
	switch p {
	case packet.ProtoICMP:
		return "icmp"
	case packet.ProtoICMPv6:
		return "icmpv6"
	case 2:
		return "igmp"
	case 47:
		return "gre"
	case 50:
		return "esp"
	case 89:
		return "ospf"
	case packet.ProtoSCTP:
		return "sctp"
	case 112:
		return "vrrp"
	}
	return "ip-" + itoa(int(p))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [4]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
