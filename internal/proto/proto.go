// Package proto defines what a protocol dissector is: how the flow engine
// asks it whether a conversation speaks its protocol (by content, with ports
// only ordering the questions), and how it then feeds it the conversation.
// Each dissector lives in its own package under internal/proto and depends
// only on this package and on internal/event.
package proto

import (
	"net/netip"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// Transport is the IP protocol number of a flow's transport.
type Transport uint8

const (
	TCP Transport = 6
	UDP Transport = 17
)

func (t Transport) String() string {
	switch t {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "ip"
}

// Dir is the direction of data within a flow.
type Dir uint8

const (
	// ToServer is data sent by the client (the flow's initiator).
	ToServer Dir = 0
	// ToClient is data sent by the server.
	ToClient Dir = 1
)

// Reverse returns the other direction.
func (d Dir) Reverse() Dir { return d ^ 1 }

// Verdict is a dissector's answer to a probe.
type Verdict uint8

const (
	// Unsure means the bytes so far neither confirm nor exclude the
	// protocol; the engine asks again when more data arrives.
	Unsure Verdict = iota
	// No means the data is not this protocol.
	No
	// Yes means the data is this protocol and the flow's client and server
	// are as the engine guessed.
	Yes
	// YesReversed means the data is this protocol but the engine's guess of
	// client and server was wrong (a capture that began mid-conversation,
	// say); the engine swaps them before creating the session.
	YesReversed
)

// Conn describes a conversation to a dissector. The engine owns it; it stays
// valid for the session's lifetime.
type Conn struct {
	// ID is the flow's stable identifier.
	ID string
	// Transport is TCP or UDP.
	Transport Transport
	// Client opened the conversation; Server answered.
	Client, Server event.Endpoint
	// VLAN is the innermost 802.1Q tag, 0 if none.
	VLAN uint16
	// Proto is the name of the dissector that claimed the flow.
	Proto string
}

// Ends returns the sender and receiver of data travelling in dir.
func (c *Conn) Ends(dir Dir) (src, dst event.Endpoint) {
	if dir == ToServer {
		return c.Client, c.Server
	}
	return c.Server, c.Client
}

// Observation returns an observation of kind for data that travelled in
// dir, with the envelope filled in; the dissector adds Detail, Facts and
// Weaknesses.
func (c *Conn) Observation(dir Dir, kind string, m Meta) *event.Observation {
	src, dst := c.Ends(dir)
	d := event.ToServer
	if dir == ToClient {
		d = event.ToClient
	}
	return &event.Observation{
		V:         event.Version,
		Type:      event.TypeObservation,
		Time:      m.Time.UTC(),
		Flow:      c.ID,
		Frame:     m.Frame,
		Src:       src,
		Dst:       dst,
		VLAN:      c.VLAN,
		Dir:       d,
		Transport: c.Transport.String(),
		Proto:     c.Proto,
		Kind:      kind,
	}
}

// Meta tells a session about the packet that carried the data it is given.
type Meta struct {
	// Time is the capture time of that packet.
	Time time.Time
	// Frame is that packet's number in its capture, counting from 1.
	Frame uint64
}

// Sink receives observations. Implementations must not keep the pointer's
// target mutable: a session never changes an observation after handing it
// over.
type Sink interface {
	Observe(o *event.Observation)
}

// Expecter is implemented by the Sink the engine gives a session. A
// session that learns where a related connection will go (the data
// connection an FTP server announces in its PASV reply) says so, and the
// engine labels that connection with proto and links it to this flow
// instead of probing it.
type Expecter interface {
	Expect(server netip.AddrPort, proto string)
}

// Dissector recognises one protocol and creates sessions that decode it.
// A Dissector is shared by all flows and must be safe for use by one
// goroutine at a time (the engine is single-threaded per capture).
type Dissector interface {
	// Name is the protocol's short lower-case name ("dicom", "hl7", "tls").
	Name() string
	// Transport is the transport the protocol runs on.
	Transport() Transport
	// Ports lists well-known server ports. They only decide the order in
	// which dissectors are asked; recognition is by content.
	Ports() []uint16
	// Probe looks at the first bytes a flow carried in direction dir (for
	// TCP the start of the reassembled stream, for UDP one datagram) and
	// says whether they are this protocol. It must not keep data.
	Probe(c *Conn, dir Dir, data []byte) Verdict
	// New starts decoding a flow that Probe accepted. Observations go to out.
	New(c *Conn, out Sink) Session
}

// Session decodes one flow.
type Session interface {
	// Feed gives the session the next bytes of one direction: for TCP the
	// reassembled stream in order, starting with the bytes the probe saw;
	// for UDP one whole datagram per call.
	//
	// For TCP, consumed says how many bytes the session is done with. Bytes
	// not consumed are given again, followed by the next data, so a session
	// can wait for a whole message; the engine holds at most a bounded
	// amount and reports a Gap when a session waits for more. consumed
	// larger than len(data) skips that many more bytes unseen (bulk data the
	// session need not read). For UDP, consumed is ignored.
	//
	// data is valid only during the call; a session copies what it keeps.
	// done says the session wants nothing more from this flow.
	Feed(dir Dir, data []byte, m Meta) (consumed int, done bool)
	// Gap says n bytes of dir are missing (lost, not captured, or more than
	// the engine would hold). The next Feed of dir starts after the gap.
	Gap(dir Dir, n int)
	// End says the flow is over; the session emits what it still holds.
	// It is called once for every session, also after Feed returned done;
	// m describes the flow's last packet.
	End(m Meta)
}
