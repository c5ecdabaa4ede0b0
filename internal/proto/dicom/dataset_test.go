package dicom

import (
	"encoding/binary"
	"reflect"
	"testing"
)

func scanAll(syn syntax, ds []byte, chunk int) *scanner {
	var s scanner
	s.reset(syn)
	for len(ds) > 0 && !s.done {
		n := len(ds)
		if chunk > 0 && n > chunk {
			n = chunk
		}
		s.feed(ds[:n])
		ds = ds[n:]
	}
	s.end()
	return &s
}

func keywords(mask uint32) []string {
	var k []string
	for _, a := range attributes(mask) {
		k = append(k, a.Keyword)
	}
	return k
}

func TestScanner(t *testing.T) {
	le := func(es ...elem) []byte { return explicit(binary.LittleEndian, es...) }
	be := func(es ...elem) []byte { return explicit(binary.BigEndian, es...) }
	// An undefined-length sequence before the patient module, with an
	// undefined-length item holding a nested sequence, and a defined-length
	// item.
	nestedImplicit := implicitLE(
		elem{tag: 0xfffee000, val: implicitLE(
			str(0x00081150, "UI", "1.2.3"),
			elem{tag: 0x00081199, undef: true, val: implicitLE(
				elem{tag: 0xfffee000, val: implicitLE(str(0x00081155, "UI", "1.2"))},
				elem{tag: 0xfffee0dd},
			)},
		), undef: true},
		elem{tag: 0xfffee00d},
		elem{tag: 0xfffee000, val: implicitLE(str(0x00100010, "PN", "INSIDE^SEQUENCE"))},
		elem{tag: 0xfffee0dd},
	)
	withSeq := implicitLE(
		str(0x00080050, "SH", ""),
		elem{tag: 0x00081110, undef: true, val: nestedImplicit},
		str(0x00100020, "LO", "ID1"),
		str(0x00101040, "LO", "1 MAIN ST"),
		str(0x00102154, "SH", "555-0100"),
		str(0x00200010, "SH", "1"),
	)
	// The same in explicit VR, with an unknown-VR undefined-length element
	// whose content is implicit (PS3.5 6.2.2).
	unInner := implicitLE(elem{tag: 0xfffee000, val: implicitLE(str(0x00100010, "PN", "X")), undef: true},
		elem{tag: 0xfffee00d}, elem{tag: 0xfffee0dd})
	withUN := le(
		elem{tag: 0x00091010, vr: "UN", undef: true, val: unInner},
		str(0x00100010, "PN", "NAME^ONLY"),
	)
	longValue := le(str(0x00100010, "PN", string(make([]byte, 200))), str(0x00101000, "LO", "OTHER1"))
	// 200 NULs is long enough not to be read: counted as present.
	cases := []struct {
		name       string
		syn        syntax
		ds         []byte
		found      []string
		wild       []string
		note       string
		level      string
		stopsEarly bool
	}{
		{"implicit", synImplicitLE, ctDataSet(implicitLE, 10000), []string{"AccessionNumber", "PatientName", "PatientID", "PatientBirthDate"}, nil, "", "", true},
		{"explicit LE", synExplicitLE, ctDataSet(le, 10000), []string{"AccessionNumber", "PatientName", "PatientID", "PatientBirthDate"}, nil, "", "", true},
		{"explicit BE", synExplicitBE, ctDataSet(be, 10000), []string{"AccessionNumber", "PatientName", "PatientID", "PatientBirthDate"}, nil, "", "", true},
		{"guessed explicit", synUnknown, ctDataSet(le, 100), []string{"AccessionNumber", "PatientName", "PatientID", "PatientBirthDate"}, nil, "", "", true},
		{"guessed implicit", synUnknown, ctDataSet(implicitLE, 100), []string{"AccessionNumber", "PatientName", "PatientID", "PatientBirthDate"}, nil, "", "", true},
		{"sequences skipped", synImplicitLE, withSeq, []string{"PatientID", "PatientAddress", "PatientTelephoneNumbers"}, nil, "", "", true},
		{"unknown VR holding implicit", synExplicitLE, withUN, []string{"PatientName"}, nil, "", "", false},
		{"long value", synExplicitLE, longValue, []string{"PatientName", "OtherPatientIDs"}, nil, "", "", false},
		{"query wildcards", synExplicitLE, le(str(0x00080052, "CS", "STUDY"), str(0x00100010, "PN", "*"), str(0x00100020, "LO", ""),
			str(0x00100030, "DA", "19500101-19600101")), []string{"PatientBirthDate"}, []string{"PatientName"}, "", "STUDY", false},
		{"padding only", synImplicitLE, implicitLE(str(0x00100010, "PN", "^^^ "), str(0x00100020, "LO", "  ")), nil, nil, "", "", false},
		{"deflated", synDeflated, []byte{1, 2, 3}, nil, nil, "deflated data set not inspected", "", false},
		{"out of order", synImplicitLE, implicitLE(str(0x00100020, "LO", "A"), str(0x00100010, "PN", "B")), []string{"PatientID"}, nil, "malformed data set", "", false},
		{"bad VR", synExplicitLE, []byte{0x10, 0, 0x10, 0, 'z', 'z', 2, 0, 'A', 'B'}, nil, nil, "malformed data set", "", false},
		{"cut inside element", synImplicitLE, implicitLE(str(0x00100010, "PN", "ABCDEFGH"))[:12], nil, nil, "data set ended inside an element", "", false},
		{"stray delimiter", synImplicitLE, implicitLE(elem{tag: 0xfffee00d}), nil, nil, "malformed data set", "", false},
	}
	for _, tc := range cases {
		for _, chunk := range []int{0, 1, 3, 7} {
			s := scanAll(tc.syn, tc.ds, chunk)
			if got := keywords(s.found); !reflect.DeepEqual(got, tc.found) {
				t.Errorf("%s/%d: found %v, want %v", tc.name, chunk, got, tc.found)
			}
			if got := keywords(s.wild); !reflect.DeepEqual(got, tc.wild) {
				t.Errorf("%s/%d: wildcards %v, want %v", tc.name, chunk, got, tc.wild)
			}
			if s.note != tc.note || s.level != tc.level {
				t.Errorf("%s/%d: note %q level %q, want %q %q", tc.name, chunk, s.note, s.level, tc.note, tc.level)
			}
		}
		// A scan that reaches group 0020 stops before the pixel data.
		var s scanner
		s.reset(tc.syn)
		s.feed(tc.ds)
		if tc.stopsEarly && !s.done {
			t.Errorf("%s: scan did not stop after group 0010", tc.name)
		}
	}
}

func TestNesting(t *testing.T) {
	// Sequences nested beyond the bound end the scan instead of growing.
	var ds []byte
	for i := 0; i < maxDepth+4; i++ {
		ds = append(ds, implicitLE(elem{tag: 0x00081110, undef: true}, elem{tag: 0xfffee000, undef: true})...)
	}
	s := scanAll(synImplicitLE, ds, 0)
	if s.note != "data set nested too deeply" {
		t.Errorf("note %q", s.note)
	}
}

func TestCommandParse(t *testing.T) {
	c, err := parseCommand(commandSet(str(tagAffectedSOPClass, "UI", ctSOP), us(tagCommandField, cMoveRQ), us(tagMessageID, 3),
		us(tagPriority, 1), us(tagDataSetType, 0), str(tagMoveDestination, "AE", "WORKSTATION1")))
	if err != nil || c.field != cMoveRQ || c.moveDest != "WORKSTATION1" || c.priority != 1 || !c.dataSet() || c.sopClass != ctSOP {
		t.Errorf("c-move-rq %+v %v", c, err)
	}
	if _, err := parseCommand(commandSet(us(tagMessageID, 3))); err == nil {
		t.Error("command without field accepted")
	}
	if _, err := parseCommand([]byte{0, 0, 0, 1, 2}); err == nil {
		t.Error("short command accepted")
	}
	for _, s := range []struct {
		code  uint16
		class string
	}{{0, "success"}, {0xff00, "pending"}, {0xff01, "pending"}, {0xfe00, "cancel"}, {0xb000, "warning"}, {0x0107, "warning"},
		{0xa700, "failure"}, {0xc001, "failure"}, {0x0122, "failure"}} {
		if got := statusClass(s.code); got != s.class {
			t.Errorf("status %#04x: %s, want %s", s.code, got, s.class)
		}
	}
	for f := uint16(0); f < 0x9000; f++ {
		name, kind := commandNames(f)
		if name != "UNKNOWN" && (kind == "" || hex16(f) == "") {
			t.Errorf("command %#x", f)
		}
	}
}
