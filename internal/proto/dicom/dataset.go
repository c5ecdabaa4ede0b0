package dicom

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// syntax is how a data set is encoded.
type syntax uint8

const (
	synUnknown syntax = iota // not negotiated or not seen: guess from the bytes
	synImplicitLE
	synExplicitLE
	synExplicitBE
	synDeflated
)

// syntaxOf maps a transfer syntax UID to its data set encoding. The
// compressed pixel-data syntaxes (JPEG, RLE, MPEG …) encode the data set
// itself in explicit VR little endian.
func syntaxOf(ts string) syntax {
	switch ts {
	case "":
		return synUnknown
	case uidImplicitLE:
		return synImplicitLE
	case uidExplicitBE:
		return synExplicitBE
	case uidDeflatedLE:
		return synDeflated
	}
	return synExplicitLE
}

// identifying is one attribute whose presence in a data set reveals who a
// patient is (patient true) or who treats them.
type identifying struct {
	tag     uint32
	keyword string
	patient bool
}

// identifyingTags are the attributes looked for, in tag order; all sit in
// groups 0008 and 0010, which come first in a data set, so the scanner
// stops at the first element of a later group.
var identifyingTags = [...]identifying{
	{0x00080050, "AccessionNumber", true},
	{0x00080090, "ReferringPhysicianName", false},
	{0x00080092, "ReferringPhysicianAddress", false},
	{0x00080094, "ReferringPhysicianTelephoneNumbers", false},
	{0x00081048, "PhysiciansOfRecord", false},
	{0x00081050, "PerformingPhysicianName", false},
	{0x00081060, "NameOfPhysiciansReadingStudy", false},
	{0x00081070, "OperatorsName", false},
	{0x00100010, "PatientName", true},
	{0x00100020, "PatientID", true},
	{0x00100030, "PatientBirthDate", true},
	{0x00100032, "PatientBirthTime", true},
	{0x00101000, "OtherPatientIDs", true},
	{0x00101001, "OtherPatientNames", true},
	{0x00101005, "PatientBirthName", true},
	{0x00101040, "PatientAddress", true},
	{0x00101060, "PatientMotherBirthName", true},
	{0x00101090, "MedicalRecordLocator", true},
	{0x00102154, "PatientTelephoneNumbers", true},
	{0x00102155, "PatientTelecomInformation", true},
}

// patientMask has the bits of identifyingTags entries about the patient.
var patientMask = func() uint32 {
	var m uint32
	for i, t := range identifyingTags {
		if t.patient {
			m |= 1 << i
		}
	}
	return m
}()

// tagQueryLevel is Query/Retrieve Level, kept because it says how broad a
// query or retrieval is.
const tagQueryLevel = 0x00080052

// lastGroup is the last group the scanner reads.
const lastGroup = 0x0010

func identifyingIndex(tag uint32) int {
	for i := range identifyingTags {
		if identifyingTags[i].tag == tag {
			return i
		}
	}
	return -1
}

// tagString formats a tag as "(gggg,eeee)".
func tagString(tag uint32) string {
	return fmt.Sprintf("(%04X,%04X)", tag>>16, tag&0xffff)
}

const (
	undefinedLength = 0xffffffff
	// maxDepth bounds nesting of undefined-length sequences and items.
	maxDepth = 16
	// maxValue is the longest identifying value read to tell a real value
	// from padding or a universal-match wildcard; longer ones count as
	// present unread.
	maxValue = 64
)

// level is one open undefined-length sequence or item.
type level struct {
	item bool
	syn  syntax
}

// scanner walks the start of a data set as it streams past, noting which
// identifying attributes it carries with a non-empty value. It keeps at
// most one element header and one short value, never the data set: values
// are skipped, and the scan ends at the first top-level element after
// group 0010, so pixel data is never looked at.
//
// Only top-level elements count; sequences are walked (to find where they
// end) but not searched.
type scanner struct {
	syn    syntax
	done   bool
	note   string
	hdr    [12]byte
	nhdr   int
	skip   uint64
	val    [maxValue]byte
	nval   int
	vlen   int
	valTag uint32
	stack  [maxDepth]level
	depth  int
	last   uint32
	found  uint32 // bits of identifyingTags with a value
	wild   uint32 // bits of identifyingTags with only a wildcard
	level  string // query/retrieve level
}

// reset prepares s for a new data set in syntax syn.
func (s *scanner) reset(syn syntax) {
	*s = scanner{syn: syn}
	if syn == synDeflated {
		s.finish("deflated data set not inspected")
	}
}

func (s *scanner) finish(note string) {
	s.done = true
	if s.note == "" {
		s.note = note
	}
}

// current returns the syntax of the innermost open level.
func (s *scanner) current() syntax {
	if s.depth > 0 {
		return s.stack[s.depth-1].syn
	}
	return s.syn
}

// feed gives the scanner the next bytes of the data set.
func (s *scanner) feed(b []byte) {
	for len(b) > 0 && !s.done {
		if s.skip > 0 {
			n := uint64(len(b))
			if n > s.skip {
				n = s.skip
			}
			b = b[n:]
			s.skip -= n
			continue
		}
		if s.vlen > 0 {
			n := copy(s.val[s.nval:s.vlen], b)
			s.nval += n
			b = b[n:]
			if s.nval == s.vlen {
				s.judge()
			}
			continue
		}
		need := 8
		if s.nhdr >= 8 {
			need = s.headerLen()
		}
		n := copy(s.hdr[s.nhdr:need], b)
		s.nhdr += n
		b = b[n:]
		if s.nhdr < need {
			continue
		}
		if need == 8 && s.headerLen() == 12 {
			continue
		}
		s.element()
		s.nhdr = 0
	}
}

// headerLen is the full length of the element header whose first 8 bytes
// are in hdr.
func (s *scanner) headerLen() int {
	syn := s.current()
	if syn == synUnknown {
		// First element of a data set of unknown encoding: a valid VR
		// where explicit VR puts it decides.
		syn = synImplicitLE
		if isVR(s.hdr[4], s.hdr[5]) {
			syn = synExplicitLE
		}
		s.syn = syn
	}
	if syn == synImplicitLE || s.group() == 0xfffe {
		return 8
	}
	if longVR(s.hdr[4], s.hdr[5]) {
		return 12
	}
	return 8
}

func (s *scanner) order() binary.ByteOrder {
	if s.current() == synExplicitBE {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func (s *scanner) group() uint16 { return s.order().Uint16(s.hdr[0:2]) }

// element acts on one complete element header.
func (s *scanner) element() {
	o := s.order()
	group := o.Uint16(s.hdr[0:2])
	tag := uint32(group)<<16 | uint32(o.Uint16(s.hdr[2:4]))
	syn := s.current()
	explicit := syn != synImplicitLE && group != 0xfffe
	var length uint32
	var vr0, vr1 byte
	switch {
	case !explicit:
		length = o.Uint32(s.hdr[4:8])
	case longVR(s.hdr[4], s.hdr[5]):
		vr0, vr1 = s.hdr[4], s.hdr[5]
		length = o.Uint32(s.hdr[8:12])
	default:
		vr0, vr1 = s.hdr[4], s.hdr[5]
		if !isVR(vr0, vr1) {
			s.finish("malformed data set")
			return
		}
		length = uint32(o.Uint16(s.hdr[6:8]))
	}
	if group == 0xfffe {
		s.delimiter(tag, length)
		return
	}
	if s.depth == 0 {
		if group > lastGroup {
			s.finish("")
			return
		}
		if tag < s.last {
			s.finish("malformed data set")
			return
		}
		s.last = tag
	}
	if length == undefinedLength {
		// A sequence, or an unknown-VR element holding one encoded in
		// implicit VR (PS3.5 6.2.2).
		inner := syn
		if explicit {
			switch {
			case vr0 == 'U' && vr1 == 'N':
				inner = synImplicitLE
			case vr0 == 'S' && vr1 == 'Q':
			default:
				s.finish("malformed data set")
				return
			}
		}
		s.push(level{syn: inner})
		return
	}
	if s.depth == 0 && length > 0 {
		if tag == tagQueryLevel && length <= maxValue {
			s.valTag, s.vlen, s.nval = tag, int(length), 0
			return
		}
		if i := identifyingIndex(tag); i >= 0 {
			if length <= maxValue {
				s.valTag, s.vlen, s.nval = tag, int(length), 0
				return
			}
			s.found |= 1 << i
		}
	}
	s.skip = uint64(length)
}

// delimiter handles item and delimitation elements (group FFFE).
func (s *scanner) delimiter(tag, length uint32) {
	switch tag {
	case 0xfffee000: // item
		if s.depth == 0 || s.stack[s.depth-1].item {
			s.finish("malformed data set")
			return
		}
		if length == undefinedLength {
			s.push(level{item: true, syn: s.current()})
			return
		}
		s.skip = uint64(length)
	case 0xfffee00d: // item delimitation
		if s.depth == 0 || !s.stack[s.depth-1].item {
			s.finish("malformed data set")
			return
		}
		s.depth--
	case 0xfffee0dd: // sequence delimitation
		if s.depth == 0 || s.stack[s.depth-1].item {
			s.finish("malformed data set")
			return
		}
		s.depth--
	default:
		s.finish("malformed data set")
	}
}

func (s *scanner) push(l level) {
	if s.depth == maxDepth {
		s.finish("data set nested too deeply")
		return
	}
	s.stack[s.depth] = l
	s.depth++
}

// judge decides about a short value read in full, then forgets it.
func (s *scanner) judge() {
	v := s.val[:s.vlen]
	defer func() {
		clear(s.val[:s.vlen])
		s.vlen, s.nval = 0, 0
	}()
	if s.valTag == tagQueryLevel {
		s.level = queryLevel(trimValue(v))
		return
	}
	i := identifyingIndex(s.valTag)
	meaningful, wildcard := false, false
	for _, c := range v {
		switch c {
		case ' ', 0, '\\', '^', '=':
		case '*', '?':
			wildcard = true
		default:
			meaningful = true
		}
	}
	switch {
	case meaningful:
		s.found |= 1 << i
	case wildcard:
		s.wild |= 1 << i
	}
}

// end says the data set is over; an element cut short is noted.
func (s *scanner) end() {
	if !s.done && (s.nhdr > 0 || s.vlen > 0 || s.skip > 0 || s.depth > 0) {
		s.finish("data set ended inside an element")
	}
	clear(s.val[:])
	s.done = true
}

func queryLevel(b []byte) string {
	switch string(b) {
	case "PATIENT":
		return "PATIENT"
	case "STUDY":
		return "STUDY"
	case "SERIES":
		return "SERIES"
	case "IMAGE":
		return "IMAGE"
	}
	return "other"
}

// identifyingStrings holds the "(gggg,eeee)" form of identifyingTags, made
// once so that reporting them does not format strings per message.
var identifyingStrings = func() [len(identifyingTags)]string {
	var s [len(identifyingTags)]string
	for i, t := range identifyingTags {
		s[i] = tagString(t.tag)
	}
	return s
}()

// attributes lists the entries of identifyingTags whose bits are in mask.
func attributes(mask uint32) []Attribute {
	if mask == 0 {
		return nil
	}
	out := make([]Attribute, 0, bits.OnesCount32(mask))
	for i, t := range identifyingTags {
		if mask&(1<<i) != 0 {
			out = append(out, Attribute{Tag: identifyingStrings[i], Keyword: t.keyword})
		}
	}
	return out
}

// isVR says whether two bytes are a value representation of PS3.5 6.2.
func isVR(a, b byte) bool {
	switch string([]byte{a, b}) {
	case "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT",
		"OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST",
		"SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV":
		return true
	}
	return false
}

// longVR says whether a VR has the 12-byte explicit header (reserved
// bytes and a 32-bit length).
func longVR(a, b byte) bool {
	switch string([]byte{a, b}) {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}
