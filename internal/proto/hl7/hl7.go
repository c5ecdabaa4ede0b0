// Package hl7 dissects HL7 version 2 messages carried over TCP, framed by
// the Minimal Lower Layer Protocol (MLLP: 0x0B, message, 0x1C 0x0D) or, when
// a stream clearly starts with "MSH|^~\&", unframed.
//
// For each message it reports the MSH header (applications, facilities,
// message type, control id, processing id, version), which segments the
// message held (names and counts, never their contents) and whether
// segments carrying patient identity travelled in cleartext. Acknowledgements
// (MSA) are matched to the messages they answer.
//
// Nothing of a message is kept beyond the header fields listed above: a
// session holds at most one segment head per direction, so memory stays
// bounded whatever the peers send. The package depends only on proto and
// event.
package hl7

import (
	"bytes"

	"github.com/heir-emd/heir/internal/proto"
)

// MLLP framing bytes.
const (
	startBlock = 0x0B
	endBlock   = 0x1C
	carriageRt = 0x0D
)

// Limits bound what a session holds and how far it reads.
type Limits struct {
	// MaxMessage is the longest message, in bytes, followed to its end;
	// a longer one is reported as oversize and the stream is resynchronised
	// on the next start block.
	MaxMessage int
	// SegmentHead is how much of one segment is held and parsed; the rest
	// of a longer segment (an embedded PDF in OBX-5, say) is skipped unseen.
	SegmentHead int
	// MaxPending is how many unacknowledged control ids a flow remembers to
	// match acknowledgements; the oldest is forgotten when full.
	MaxPending int
	// MaxTypes is how many distinct message types a flow counts for its
	// summary; further types are counted together as overflow.
	MaxTypes int
}

// DefaultLimits are the limits New uses.
var DefaultLimits = Limits{
	MaxMessage:  1 << 20,
	SegmentHead: 4 << 10,
	MaxPending:  64,
	MaxTypes:    32,
}

// Dissector recognises HL7 v2 streams.
type Dissector struct {
	lim Limits
}

// New returns the HL7 dissector with DefaultLimits.
func New() *Dissector { return NewWithLimits(DefaultLimits) }

// NewWithLimits returns the HL7 dissector with lim; zero fields take the
// defaults.
func NewWithLimits(lim Limits) *Dissector {
	d := DefaultLimits
	if lim.MaxMessage > 0 {
		d.MaxMessage = lim.MaxMessage
	}
	if lim.SegmentHead >= 64 {
		d.SegmentHead = lim.SegmentHead
	}
	if lim.MaxPending > 0 {
		d.MaxPending = lim.MaxPending
	}
	if lim.MaxTypes > 0 {
		d.MaxTypes = lim.MaxTypes
	}
	return &Dissector{lim: d}
}

// Name implements proto.Dissector.
func (d *Dissector) Name() string { return "hl7" }

// Transport implements proto.Dissector.
func (d *Dissector) Transport() proto.Transport { return proto.TCP }

// Ports implements proto.Dissector: the IANA port for HL7 over MLLP and a
// common interface-engine port. They only order the probes.
func (d *Dissector) Ports() []uint16 { return []uint16{2575, 6661} }

// rawStart is the only unframed beginning accepted: with the default
// separators it is distinctive enough; with others it is not.
var rawStart = []byte("MSH|^~\\&")

// Probe implements proto.Dissector. It accepts a stream that starts with an
// MLLP start block and an MSH, FHS or BHS header, one that starts with
// "MSH|^~\&" unframed, and one whose first bytes are the tail of a message
// followed by a start block and a header (a capture begun mid-message).
// HL7 says nothing about who opened the connection, so the engine's guess
// of client and server is kept.
func (d *Dissector) Probe(_ *proto.Conn, _ proto.Dir, data []byte) proto.Verdict {
	if len(data) == 0 {
		return proto.Unsure
	}
	if data[0] == startBlock {
		switch headerState(data[1:]) {
		case hdrOK:
			return proto.Yes
		case hdrPartial:
			return proto.Unsure
		}
		return proto.No
	}
	if data[0] == 'M' {
		n := min(len(data), len(rawStart))
		if bytes.Equal(data[:n], rawStart[:n]) {
			if n < len(rawStart) {
				return proto.Unsure
			}
			return proto.Yes
		}
	}
	// A capture that begins mid-message: look for the next frame.
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], startBlock)
		if i < 0 {
			break
		}
		switch headerState(data[off+i+1:]) {
		case hdrOK:
			return proto.Yes
		case hdrPartial:
			return proto.Unsure
		}
		off += i + 1
	}
	if looksLikeSegments(data) {
		return proto.Unsure
	}
	return proto.No
}

// New implements proto.Dissector.
func (d *Dissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	return newSession(d.lim, c, out)
}

type hdrVerdict uint8

const (
	hdrBad hdrVerdict = iota
	hdrPartial
	hdrOK
)

// headerState says whether b starts with an MSH, FHS or BHS segment whose
// field separator and encoding characters are well formed, up to and
// including the separator after the encoding characters.
func headerState(b []byte) hdrVerdict {
	names := [...]string{"MSH", "FHS", "BHS"}
	n := min(len(b), 3)
	match := false
	for _, name := range names {
		if string(b[:n]) == name[:n] {
			match = true
			break
		}
	}
	if !match {
		return hdrBad
	}
	if len(b) < 4 {
		return hdrPartial
	}
	sep := b[3]
	if !isDelimiter(sep) {
		return hdrBad
	}
	// Encoding characters: component, repetition, escape, subcomponent
	// and, from v2.7, truncation. At least the component separator.
	var seen [256]bool
	seen[sep] = true
	k := 0
	for _, c := range b[4:] {
		if c == sep {
			if k == 0 {
				return hdrBad
			}
			return hdrOK
		}
		if k == 5 || !isDelimiter(c) || seen[c] {
			return hdrBad
		}
		seen[c] = true
		k++
	}
	return hdrPartial
}

// isDelimiter says whether c may serve as an HL7 separator: printable,
// neither a letter nor a digit nor a space.
func isDelimiter(c byte) bool {
	return c > ' ' && c < 0x7f && !isAlnum(c)
}

func isAlnum(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
}

// looksLikeSegments says whether data could be the tail of an HL7 message:
// text with a segment terminator followed by a segment name and separator,
// or an end block. It keeps a probe asking while a mid-message capture
// catches up with the next frame, without holding on to every text flow.
func looksLikeSegments(data []byte) bool {
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == endBlock && i+1 < len(data) && data[i+1] == carriageRt {
			return true
		}
		if c == carriageRt && i+4 < len(data) && isSegName(data[i+1:i+4]) && isDelimiter(data[i+4]) {
			return true
		}
		if c < ' ' && c != carriageRt && c != '\n' && c != '\t' {
			return false
		}
	}
	return false
}

// isSegName says whether b is a segment name: an upper-case letter then
// two upper-case letters or digits.
func isSegName(b []byte) bool {
	if len(b) != 3 || b[0] < 'A' || b[0] > 'Z' {
		return false
	}
	for _, c := range b[1:] {
		if !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}
