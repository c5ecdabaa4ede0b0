package hl7

import (
	"bytes"
	"unicode/utf8"
)

// Detail is the Detail of every hl7 observation ("message", "ack",
// "session-summary"); fields that do not apply are left out. It never
// holds a value from a segment other than MSH and MSA.
type Detail struct {
	// Direction is "to_server" or "to_client".
	Direction string `json:"direction,omitempty"`
	// Framing is "mllp" or "none" (unframed).
	Framing string `json:"framing,omitempty"`
	// FieldSeparator and EncodingCharacters are MSH-1 and MSH-2.
	FieldSeparator     string `json:"field_separator,omitempty"`
	EncodingCharacters string `json:"encoding_characters,omitempty"`
	// SendingApplication … ReceivingFacility are the first components of
	// MSH-3 to MSH-6.
	SendingApplication   string `json:"sending_application,omitempty"`
	SendingFacility      string `json:"sending_facility,omitempty"`
	ReceivingApplication string `json:"receiving_application,omitempty"`
	ReceivingFacility    string `json:"receiving_facility,omitempty"`
	// MessageType is MSH-9's message code and trigger event ("ADT^A01",
	// or "ACK" without an event); MessageCode, TriggerEvent and
	// MessageStructure are its three components.
	MessageType      string `json:"message_type,omitempty"`
	MessageCode      string `json:"message_code,omitempty"`
	TriggerEvent     string `json:"trigger_event,omitempty"`
	MessageStructure string `json:"message_structure,omitempty"`
	// ControlID, ProcessingID and Version are MSH-10, MSH-11 and MSH-12
	// (first components).
	ControlID    string `json:"control_id,omitempty"`
	ProcessingID string `json:"processing_id,omitempty"`
	Version      string `json:"version,omitempty"`
	// Segments lists the segment names in order of first appearance with
	// how often each occurred; SegmentCount is the total and
	// SegmentsDropped the segments whose names did not fit the bound.
	Segments        []SegmentCount `json:"segments,omitempty"`
	SegmentCount    int            `json:"segment_count,omitempty"`
	SegmentsDropped int            `json:"segments_dropped,omitempty"`
	// Size is the message's length in bytes (with MLLP framing).
	Size int `json:"size,omitempty"`
	// PHISegments names the segments that carried patient data (see
	// docs/proto/hl7.md for the rules); empty when none did.
	PHISegments []string `json:"phi_segments,omitempty"`
	// Batch says the message travelled inside an FHS/BHS batch.
	Batch bool `json:"batch,omitempty"`
	// Truncated says the message's end was not seen (gap, new start block,
	// end of flow); Oversize that it exceeded the size bound.
	Truncated bool `json:"truncated,omitempty"`
	Oversize  bool `json:"oversize,omitempty"`
	// AckCode is MSA-1 (AA, AE, AR, CA, CE, CR); AckControlID is MSA-2, the
	// control id acknowledged; ErrSegment says an ERR segment was present.
	AckCode      string `json:"ack_code,omitempty"`
	AckControlID string `json:"ack_control_id,omitempty"`
	ErrSegment   bool   `json:"err_segment,omitempty"`
	// AckedType is the message type of the acknowledged message and
	// AckLatencyMS the time between it and the acknowledgement, when that
	// message was seen in this flow.
	AckedType    string  `json:"acked_type,omitempty"`
	AckLatencyMS float64 `json:"ack_latency_ms,omitempty"`

	// Summary fields (kind "session-summary").
	Messages      int            `json:"messages,omitempty"`
	MessageTypes  map[string]int `json:"message_types,omitempty"`
	TypesDropped  int            `json:"types_dropped,omitempty"`
	Acks          int            `json:"acks,omitempty"`
	AckCodes      map[string]int `json:"ack_codes,omitempty"`
	Unacked       int            `json:"unacked,omitempty"`
	Oversized     int            `json:"oversized,omitempty"`
	TruncatedMsgs int            `json:"truncated_messages,omitempty"`
	Malformed     int            `json:"malformed,omitempty"`
	JunkBytes     uint64         `json:"junk_bytes,omitempty"`
	Gaps          int            `json:"gaps,omitempty"`
	DurationS     float64        `json:"duration_s,omitempty"`
}

// SegmentCount is one segment name and how often it occurred.
type SegmentCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// field returns field n of seg, numbered as the standard does: for MSH,
// FHS and BHS field 1 is the separator itself, so field n is the (n-1)th
// after the name; for other segments it is the nth. It returns nil when
// the segment has fewer fields.
func field(seg []byte, sep byte, n int, header bool) []byte {
	k := n
	if header {
		k = n - 1
	}
	i := 0
	for ; k > 0; k-- {
		j := bytes.IndexByte(seg[i:], sep)
		if j < 0 {
			return nil
		}
		i += j + 1
	}
	if j := bytes.IndexByte(seg[i:], sep); j >= 0 {
		return seg[i : i+j]
	}
	return seg[i:]
}

// component returns component n (from 1) of f.
func component(f []byte, sep byte, n int) []byte {
	for ; n > 1; n-- {
		j := bytes.IndexByte(f, sep)
		if j < 0 {
			return nil
		}
		f = f[j+1:]
	}
	if j := bytes.IndexByte(f, sep); j >= 0 {
		return f[:j]
	}
	return f
}

// maxText bounds every string taken from a message.
const maxText = 128

// text turns bytes from the wire into a printable string of at most
// maxText bytes: control characters and invalid UTF-8 become '?'.
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

// hasContent says whether any field of seg from field n on (numbered as
// for an ordinary segment) holds something other than separators and
// spaces.
func hasContent(seg []byte, enc *encoding, n int) bool {
	i := 0
	for k := n; k > 0; k-- {
		j := bytes.IndexByte(seg[i:], enc.field)
		if j < 0 {
			return false
		}
		i += j + 1
	}
	for _, c := range seg[i:] {
		if !enc.isSep(c) && c != ' ' && c != '"' {
			return true
		}
	}
	return false
}

// fieldHasContent says whether field n of seg holds something other than
// separators and spaces.
func fieldHasContent(seg []byte, enc *encoding, n int) bool {
	for _, c := range field(seg, enc.field, n, false) {
		if !enc.isSep(c) && c != ' ' && c != '"' {
			return true
		}
	}
	return false
}

// encoding is a message's separators.
type encoding struct {
	field, comp, rep, esc, sub byte
	chars                      [5]byte
	n                          int
}

func (e *encoding) isSep(c byte) bool {
	if c == e.field {
		return true
	}
	for _, x := range e.chars[:e.n] {
		if c == x {
			return true
		}
	}
	return false
}

// parseEncoding reads MSH-1 and MSH-2 from a header segment. It reports
// false when they are malformed.
func parseEncoding(seg []byte, e *encoding) bool {
	if len(seg) < 5 || !isDelimiter(seg[3]) {
		return false
	}
	*e = encoding{field: seg[3]}
	for _, c := range seg[4:] {
		if c == e.field {
			break
		}
		if e.n == len(e.chars) || !isDelimiter(c) {
			return false
		}
		e.chars[e.n] = c
		e.n++
	}
	if e.n == 0 {
		return false
	}
	e.comp = e.chars[0]
	if e.n > 1 {
		e.rep = e.chars[1]
	}
	if e.n > 2 {
		e.esc = e.chars[2]
	}
	if e.n > 3 {
		e.sub = e.chars[3]
	}
	return true
}

// identifyingFrom says whether segments named name identify a patient when
// they hold content, and from which field content counts (after the set id
// where there is one).
func identifyingFrom(name [3]byte) (int, bool) {
	switch string(name[:]) {
	case "PID", "NK1", "GT1", "IN1", "IN3":
		return 2, true
	case "PD1", "IN2", "MRG":
		return 1, true
	}
	return 0, false
}

// clinicalField says whether segments named name carry clinical content,
// which is patient data when the same message identifies the patient, and
// which field must hold a value for it to count.
func clinicalField(name [3]byte) (int, bool) {
	switch string(name[:]) {
	case "OBX":
		return 5, true // observation value
	case "AL1", "DG1", "PR1":
		return 3, true // allergen, diagnosis, procedure
	}
	return 0, false
}

// phiKind says whether seg, named name, carries patient data: 1 if it
// identifies the patient, 2 if it is clinical content, 0 otherwise.
func phiKind(name [3]byte, seg []byte, enc *encoding) int {
	if n, ok := identifyingFrom(name); ok {
		if hasContent(seg, enc, n) {
			return 1
		}
		return 0
	}
	if name == [3]byte{'P', 'V', '1'} {
		// A visit identifies the patient through the assigned location
		// (PV1-3), the visit number (PV1-19) or an alternate visit id
		// (PV1-50); the patient class alone does not.
		if fieldHasContent(seg, enc, 3) || fieldHasContent(seg, enc, 19) || fieldHasContent(seg, enc, 50) {
			return 1
		}
		return 0
	}
	if n, ok := clinicalField(name); ok && fieldHasContent(seg, enc, n) {
		return 2
	}
	return 0
}
