// Package dicom dissects the DICOM upper layer protocol (PS3.8) and the
// DIMSE messages it carries (PS3.7): associations with their AE titles,
// implementation versions and presentation contexts, every DIMSE command
// with its SOP class and status, and whether the data sets carried
// patient-identifying attributes in cleartext (only which tags, never the
// values). Data sets are read only as far as group 0010; the rest, pixel
// data above all, is skipped unseen.
//
// The package depends only on internal/proto and internal/event.
package dicom

import (
	"encoding/binary"

	"github.com/heir-emd/heir/internal/proto"
)

// Name is the protocol name in events.
const Name = "dicom"

// Dissector recognises DICOM by content and creates sessions.
type Dissector struct{}

// New returns the DICOM dissector.
func New() *Dissector { return &Dissector{} }

// Name implements proto.Dissector.
func (*Dissector) Name() string { return Name }

// Transport implements proto.Dissector.
func (*Dissector) Transport() proto.Transport { return proto.TCP }

// Ports are DICOM's registered port (104), the common unprivileged
// alternatives (11112, registered; 4242, Orthanc's default). They only
// order the probes.
func (*Dissector) Ports() []uint16 { return []uint16{104, 11112, 4242} }

// Probe recognises the start of an association (A-ASSOCIATE-RQ from the
// requestor, -AC or -RJ from the acceptor), or a stream picked up at a
// P-DATA-TF PDU or at the release or abort of an association. PDUs other
// than the A-ASSOCIATE-RQ are accepted only when their structure is exact.
// A PDU only the other side would send means the engine guessed client
// and server the wrong way round.
func (*Dissector) Probe(c *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	v, byRequestor, known := probe(data)
	if v != proto.Yes {
		return v
	}
	if known && byRequestor != (dir == proto.ToServer) {
		return proto.YesReversed
	}
	return proto.Yes
}

// probe checks data for the start of a PDU. For a Yes it also says
// whether the PDU is one the association requestor sends (known false
// when either side may send it).
func probe(data []byte) (v proto.Verdict, byRequestor, known bool) {
	if len(data) == 0 {
		return proto.Unsure, false, false
	}
	typ := data[0]
	if typ < pduAssociateRQ || typ > pduAbort {
		return proto.No, false, false
	}
	if len(data) < 2 {
		return proto.Unsure, false, false
	}
	if data[1] != 0 {
		return proto.No, false, false
	}
	if len(data) < 6 {
		return proto.Unsure, false, false
	}
	l := binary.BigEndian.Uint32(data[2:6])
	switch typ {
	case pduAssociateRQ, pduAssociateAC:
		if l < associateFixed+4 || l > maxControlPDU {
			return proto.No, false, false
		}
		if len(data) >= 8 && binary.BigEndian.Uint16(data[6:8])&1 == 0 {
			return proto.No, false, false
		}
		// AE titles at 10..42, first item header at 74.
		end := min(len(data), 42)
		if end > 10 && !validAE(data[10:end]) {
			return proto.No, false, false
		}
		if len(data) < 76 {
			return proto.Unsure, false, false
		}
		switch data[74] {
		case 0x10, 0x20, 0x21, 0x50:
		default:
			return proto.No, false, false
		}
		if data[75] != 0 {
			return proto.No, false, false
		}
		return proto.Yes, typ == pduAssociateRQ, true
	case pduAssociateRJ:
		if l != 4 {
			return proto.No, false, false
		}
		if len(data) < 10 {
			return proto.Unsure, false, false
		}
		if data[7] < 1 || data[7] > 2 || data[8] < 1 || data[8] > 3 {
			return proto.No, false, false
		}
		return proto.Yes, false, true
	case pduReleaseRQ, pduReleaseRP:
		if l != 4 {
			return proto.No, false, false
		}
		if len(data) < 10 {
			return proto.Unsure, false, false
		}
		if binary.BigEndian.Uint32(data[6:10]) != 0 {
			return proto.No, false, false
		}
		return proto.Yes, typ == pduReleaseRQ, true
	case pduAbort:
		if l != 4 {
			return proto.No, false, false
		}
		if len(data) < 10 {
			return proto.Unsure, false, false
		}
		if data[6] != 0 || data[7] != 0 || (data[8] != 0 && data[8] != 2) || data[9] > 6 {
			return proto.No, false, false
		}
		return proto.Yes, false, false
	}
	// P-DATA-TF picked up mid-stream: the first PDV must fit the PDU, sit
	// on an odd presentation context and use only the two defined control
	// bits; a command PDV must open with the command group length element.
	if l < pdvHeader || l > maxPDU {
		return proto.No, false, false
	}
	if len(data) < 12 {
		return proto.Unsure, false, false
	}
	pl := binary.BigEndian.Uint32(data[6:10])
	if pl < 2 || uint64(pl)+4 > uint64(l) || data[10]&1 == 0 || data[11] > 3 {
		return proto.No, false, false
	}
	if uint64(pl)+4 < uint64(l) && len(data) >= 16+int(pl) {
		// A second PDV follows in the same PDU: its header must hold too.
		next := data[10+pl:]
		nl := binary.BigEndian.Uint32(next[0:4])
		if nl < 2 || uint64(nl)+4 > uint64(l)-uint64(pl)-4 || next[4]&1 == 0 || next[5] > 3 {
			return proto.No, false, false
		}
	}
	if data[11]&mchCommand == 0 {
		return proto.Yes, false, false
	}
	if len(data) < 20 {
		return proto.Unsure, false, false
	}
	if binary.LittleEndian.Uint64(data[12:20]) != 0x0000000400000000 {
		return proto.No, false, false
	}
	// The command field, when visible, tells requests from responses.
	if data[11]&mchLast != 0 {
		if c, err := parseCommand(data[12:min(len(data), 10+int(pl))]); err == nil || c.has&hasField != 0 {
			return proto.Yes, !c.isResponse(), true
		}
	}
	return proto.Yes, false, false
}

// New implements proto.Dissector.
func (d *Dissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	return newSession(c, out)
}
