package dicom

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// storeAssociation is a modality's association with a PACS: echo, then
// one CT image whose data set is sent in two PDV fragments, then release.
func storeAssociation(pixelBytes int) []segment {
	ds := ctDataSet(func(es ...elem) []byte { return explicit(binary.LittleEndian, es...) }, pixelBytes)
	half := len(ds) / 2
	return []segment{
		{proto.ToServer, associateRQ("CT_ROOM1", "ARCHIVE", []rqCtx{
			{1, uidVerification, []string{uidImplicitLE}},
			{3, ctSOP, []string{uidExplicitLE, uidImplicitLE}},
		}, userInfo("1.2.3.4", "MODALITY_1.0", 16384))},
		{proto.ToClient, associateAC("CT_ROOM1", "ARCHIVE", []acCtx{
			{1, 0, uidImplicitLE}, {3, 0, uidExplicitLE},
		}, userInfo("1.2.3.5", "PACS_2.1", 32768))},
		{proto.ToServer, pdata(pdv{1, 3, echoRQ(1)})},
		{proto.ToClient, pdata(pdv{1, 3, rsp(0x8030, uidVerification, 1, 0, false)})},
		{proto.ToServer, pdata(pdv{3, 3, storeRQ(ctSOP, 2)})},
		{proto.ToServer, pdata(pdv{3, 0, ds[:half]})},
		{proto.ToServer, pdata(pdv{3, 2, ds[half:]})},
		{proto.ToClient, pdata(pdv{3, 3, rsp(0x8001, ctSOP, 2, 0, false)})},
		{proto.ToServer, releasePDU(pduReleaseRQ)},
		{proto.ToClient, releasePDU(pduReleaseRP)},
	}
}

func factValues(o *event.Observation) map[string]bool {
	m := map[string]bool{}
	for _, f := range o.Facts {
		m[string(f.About)+" "+string(f.Attr)+" "+f.Value] = true
	}
	return m
}

func TestStoreAssociation(t *testing.T) {
	out, f := run(t, storeAssociation(200000), 1448)
	want := []string{"associate-rq", "associate-ac", "c-echo-rq", "c-echo-rsp", "c-store-rq", "c-store-rsp",
		"release-rq", "release-rp", "association-summary"}
	if got := out.kinds(); !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds %v, want %v", got, want)
	}
	rq := out.obs[0].Detail.(*Association)
	if rq.CallingAE != "CT_ROOM1" || rq.CalledAE != "ARCHIVE" || rq.ImplementationVersion != "MODALITY_1.0" ||
		rq.ImplementationClassUID != "1.2.3.4" || rq.MaxPDULength != 16384 || len(rq.Contexts) != 2 ||
		rq.Contexts[1].AbstractSyntaxName != "CT Image Storage" || len(rq.Contexts[1].TransferSyntaxes) != 2 {
		t.Errorf("associate-rq detail %+v", rq)
	}
	fv := factValues(out.obs[0])
	for _, k := range []string{"src dicom-ae CT_ROOM1", "src software MODALITY_1.0", "src client dicom"} {
		if !fv[k] {
			t.Errorf("associate-rq lacks fact %q: %v", k, fv)
		}
	}
	ac := out.obs[1].Detail.(*Association)
	if ac.ContextsAccepted != 2 || ac.Contexts[1].AbstractSyntax != ctSOP || ac.Contexts[1].TransferSyntax != uidExplicitLE {
		t.Errorf("associate-ac detail %+v", ac)
	}
	fv = factValues(out.obs[1])
	for _, k := range []string{"src dicom-ae ARCHIVE", "src software PACS_2.1", "src server dicom"} {
		if !fv[k] {
			t.Errorf("associate-ac lacks fact %q: %v", k, fv)
		}
	}
	store := out.obs[4]
	m := store.Detail.(*Message)
	if m.Command != "C-STORE-RQ" || *m.MessageID != 2 || m.SOPClassName != "CT Image Storage" ||
		m.Priority != "medium" || !m.DataSet || m.TransferSyntax != uidExplicitLE || m.DataSetNote != "" {
		t.Errorf("c-store-rq detail %+v", m)
	}
	var tags []string
	for _, a := range m.PatientAttributes {
		tags = append(tags, a.Tag+" "+a.Keyword)
	}
	wantTags := []string{"(0008,0050) AccessionNumber", "(0010,0010) PatientName", "(0010,0020) PatientID", "(0010,0030) PatientBirthDate"}
	if !reflect.DeepEqual(tags, wantTags) {
		t.Errorf("patient attributes %v, want %v", tags, wantTags)
	}
	if len(store.Weaknesses) != 1 || store.Weaknesses[0].Kind != event.WeakCleartextPHI || store.Weaknesses[0].About != event.AboutSrc ||
		!strings.Contains(store.Weaknesses[0].Detail, "(0010,0010)") {
		t.Errorf("c-store-rq weaknesses %+v", store.Weaknesses)
	}
	if !factValues(store)["src client dicom:c-store"] {
		t.Errorf("c-store-rq facts %v", store.Facts)
	}
	st := out.obs[5].Detail.(*Message)
	if st.Status != "0x0000" || st.StatusClass != "success" || *st.RespondingTo != 2 {
		t.Errorf("c-store-rsp detail %+v", st)
	}
	if !factValues(out.obs[5])["src server dicom:c-store"] || !factValues(out.obs[3])["src server dicom:c-echo"] {
		t.Errorf("responses lack server activity facts")
	}
	sum := out.obs[8].Detail.(*Summary)
	if sum.Associations != 1 || sum.Accepted != 1 || !sum.Released || sum.Commands["c-store-rq"] != 1 ||
		sum.PHIMessages != 1 || sum.CallingAE != "CT_ROOM1" || sum.Malformed != 0 {
		t.Errorf("summary %+v", sum)
	}
	// Pixel data was skipped, not read.
	if f.skipped < 190000 {
		t.Errorf("skipped %d bytes, want the pixel data skipped", f.skipped)
	}
	// Never a patient value.
	js := out.json(t)
	for _, v := range []string{patientName, patientID, patientBirth, "ACC0001"} {
		if strings.Contains(js, v) {
			t.Errorf("observations contain patient value %q", v)
		}
	}
}

// TestSplitEverywhere feeds the association with each segment cut in two
// at every position, and byte by byte: the observations must not change.
func TestSplitEverywhere(t *testing.T) {
	segs := storeAssociation(3000)
	base, _ := run(t, segs, 0)
	want := base.content(t)
	for i := range segs {
		for p := 1; p < len(segs[i].data); p++ {
			var cut []segment
			cut = append(cut, segs[:i]...)
			cut = append(cut, segment{segs[i].dir, segs[i].data[:p]}, segment{segs[i].dir, segs[i].data[p:]})
			cut = append(cut, segs[i+1:]...)
			got, _ := run(t, cut, 0)
			if g := got.content(t); g != want {
				t.Fatalf("segment %d cut at %d:\n got %s\nwant %s", i, p, g, want)
			}
		}
	}
	for _, chunk := range []int{1, 2, 3, 5, 7, 13, 100, 1448} {
		got, _ := run(t, segs, chunk)
		if g := got.content(t); g != want {
			t.Fatalf("chunks of %d:\n got %s\nwant %s", chunk, g, want)
		}
	}
}

// TestFragmentedCommand sends a command set in three PDVs: two in one PDU,
// the last in another.
func TestFragmentedCommand(t *testing.T) {
	cmd := storeRQ(ctSOP, 7)
	ds := ctDataSet(implicitLE, 64)
	segs := []segment{
		{proto.ToServer, associateRQ("A", "B", []rqCtx{{5, ctSOP, []string{uidImplicitLE}}}, userInfo("1.2", "X", 0))},
		{proto.ToClient, associateAC("A", "B", []acCtx{{5, 0, uidImplicitLE}}, userInfo("1.3", "Y", 0))},
		{proto.ToServer, pdata(pdv{5, 1, cmd[:10]}, pdv{5, 1, cmd[10:40]})},
		{proto.ToServer, pdata(pdv{5, 3, cmd[40:]}, pdv{5, 2, ds})},
		{proto.ToClient, pdata(pdv{5, 3, rsp(0x8001, ctSOP, 7, 0xb000, false)})},
	}
	out, _ := run(t, segs, 0)
	rq := out.byKind("c-store-rq")
	if len(rq) != 1 {
		t.Fatalf("kinds %v", out.kinds())
	}
	m := rq[0].Detail.(*Message)
	if *m.MessageID != 7 || m.SOPClass != ctSOP || len(m.PatientAttributes) != 4 || m.TransferSyntax != uidImplicitLE {
		t.Errorf("reassembled command %+v", m)
	}
	r := out.byKind("c-store-rsp")[0].Detail.(*Message)
	if r.StatusClass != "warning" || r.Status != "0xb000" {
		t.Errorf("response %+v", r)
	}
}

func TestRejectAndAbort(t *testing.T) {
	rq := associateRQ("SCANNER", "GUESS", []rqCtx{{1, uidVerification, []string{uidImplicitLE}}}, userInfo("1.2", "", 0))
	out, f := run(t, []segment{{proto.ToServer, rq}, {proto.ToClient, rejectPDU(1, 1, 7)}, {proto.ToServer, releasePDU(pduReleaseRQ)}}, 0)
	if got := out.kinds(); !reflect.DeepEqual(got, []string{"associate-rq", "associate-rj", "association-summary"}) {
		t.Fatalf("kinds %v", got)
	}
	if !f.done {
		t.Error("session not done after reject")
	}
	rj := out.obs[1].Detail.(*Reject)
	if rj.ResultText != "rejected-permanent" || rj.SourceText != "service-user" || rj.ReasonText != "called-AE-title-not-recognized" ||
		rj.CalledAE != "GUESS" || rj.CallingAE != "SCANNER" {
		t.Errorf("reject %+v", rj)
	}
	if !factValues(out.obs[1])["src server dicom"] {
		t.Errorf("reject facts %v", out.obs[1].Facts)
	}
	for _, fct := range out.obs[1].Facts {
		if fct.Attr == event.AttrAETitle {
			t.Errorf("rejected called AE reported as the server's: %+v", fct)
		}
	}
	if s := out.obs[2].Detail.(*Summary); s.Rejected != 1 || s.Accepted != 0 {
		t.Errorf("summary %+v", s)
	}

	out, _ = run(t, []segment{{proto.ToServer, rq}, {proto.ToClient, abortPDU(2, 1)}}, 0)
	ab := out.byKind("abort")
	if len(ab) != 1 {
		t.Fatalf("kinds %v", out.kinds())
	}
	if a := ab[0].Detail.(*Abort); a.SourceText != "service-provider" || a.ReasonText != "unrecognized-PDU" {
		t.Errorf("abort %+v", a)
	}
}

// TestGetSubOperations: a C-GET's instances come back as C-STOREs from the
// acceptor; they are retrieval by the client, not the client acting as a
// storage server.
func TestGetSubOperations(t *testing.T) {
	ident := explicit(binary.LittleEndian, str(0x00080052, "CS", "PATIENT"), str(0x00100020, "LO", "*"))
	ds := ctDataSet(func(es ...elem) []byte { return explicit(binary.LittleEndian, es...) }, 1000)
	getRQ := commandSet(str(tagAffectedSOPClass, "UI", getPatient), us(tagCommandField, cGetRQ),
		us(tagMessageID, 1), us(tagPriority, 0), us(tagDataSetType, 0))
	pendingRSP := commandSet(str(tagAffectedSOPClass, "UI", getPatient), us(tagCommandField, 0x8010),
		us(tagRespondingTo, 1), us(tagDataSetType, dataSetNone), us(tagStatus, 0xff00),
		us(tagRemaining, 0), us(tagCompleted, 1), us(tagFailed, 0), us(tagWarning, 0))
	segs := []segment{
		{proto.ToServer, associateRQ("VIEWER", "PACS", []rqCtx{{1, getPatient, []string{uidExplicitLE}}, {3, ctSOP, []string{uidExplicitLE}}}, userInfo("1.2", "V", 0))},
		{proto.ToClient, associateAC("VIEWER", "PACS", []acCtx{{1, 0, uidExplicitLE}, {3, 0, uidExplicitLE}}, userInfo("1.3", "P", 0))},
		{proto.ToServer, pdata(pdv{1, 3, getRQ}, pdv{1, 2, ident})},
		{proto.ToClient, pdata(pdv{3, 3, storeRQ(ctSOP, 9)}, pdv{3, 2, ds})},
		{proto.ToServer, pdata(pdv{3, 3, rsp(0x8001, ctSOP, 9, 0, false)})},
		{proto.ToClient, pdata(pdv{1, 3, pendingRSP})},
		{proto.ToClient, pdata(pdv{1, 3, rsp(0x8010, getPatient, 1, 0, false)})},
	}
	out, _ := run(t, segs, 0)
	get := out.byKind("c-get-rq")[0]
	gm := get.Detail.(*Message)
	if gm.QueryLevel != "PATIENT" || len(gm.PatientAttributes) != 0 || len(gm.Wildcards) != 1 || gm.Wildcards[0].Keyword != "PatientID" {
		t.Errorf("c-get-rq %+v", gm)
	}
	if len(get.Weaknesses) != 0 {
		t.Errorf("wildcard query flagged as PHI: %+v", get.Weaknesses)
	}
	if !factValues(get)["src client dicom:c-get"] {
		t.Errorf("c-get-rq facts %v", get.Facts)
	}
	st := out.byKind("c-store-rq")[0]
	if m := st.Detail.(*Message); !m.SubOperation || len(m.PatientAttributes) == 0 {
		t.Errorf("sub-operation store %+v", m)
	}
	if len(st.Weaknesses) != 1 || st.Src.Port != 104 {
		t.Errorf("sub-operation PHI should be about the sender (the PACS): %+v from %v", st.Weaknesses, st.Src)
	}
	for _, o := range out.obs {
		for _, fct := range o.Facts {
			if strings.HasSuffix(fct.Value, "c-store") {
				t.Errorf("%s: C-GET sub-operation produced fact %+v", o.Kind, fct)
			}
		}
	}
	rsps := out.byKind("c-get-rsp")
	if len(rsps) != 2 || *rsps[0].Detail.(*Message).Completed != 1 || rsps[1].Detail.(*Message).StatusClass != "success" {
		t.Errorf("c-get-rsp %v", rsps)
	}
	if !factValues(rsps[0])["src server dicom:c-get"] {
		t.Errorf("c-get-rsp facts %v", rsps[0].Facts)
	}
}

func TestUserIdentity(t *testing.T) {
	uid := []byte{2, 0}
	uid = binary.BigEndian.AppendUint16(uid, 5)
	uid = append(uid, "alice"...)
	uid = binary.BigEndian.AppendUint16(uid, 7)
	uid = append(uid, "s3cr3t!"...)
	rq := associateRQ("A", "B", []rqCtx{{1, uidVerification, []string{uidImplicitLE}}}, userInfo("1.2", "V", 0, item(0x58, uid)))
	out, _ := run(t, []segment{{proto.ToServer, rq}}, 0)
	o := out.obs[0]
	a := o.Detail.(*Association)
	if a.UserIdentityType != 2 || a.UserIdentity != "alice" {
		t.Errorf("user identity %+v", a)
	}
	if len(o.Weaknesses) != 1 || o.Weaknesses[0].Kind != event.WeakCleartextCredentials || o.Weaknesses[0].About != event.AboutDst {
		t.Errorf("weaknesses %+v", o.Weaknesses)
	}
	if strings.Contains(out.json(t), "s3cr3t") {
		t.Error("passcode recorded")
	}
}

func TestContextBound(t *testing.T) {
	var ctxs []rqCtx
	for i := 0; i < 200; i++ {
		ctxs = append(ctxs, rqCtx{byte(2*i + 1), ctSOP, []string{uidImplicitLE}})
	}
	out, _ := run(t, []segment{{proto.ToServer, associateRQ("A", "B", ctxs, userInfo("1.2", "V", 0))}}, 0)
	a := out.obs[0].Detail.(*Association)
	if len(a.Contexts) != maxContexts || a.ContextsDropped != 200-maxContexts {
		t.Errorf("kept %d contexts, dropped %d", len(a.Contexts), a.ContextsDropped)
	}
}

func TestOversized(t *testing.T) {
	rq := associateRQ("A", "B", []rqCtx{{1, ctSOP, []string{uidImplicitLE}}}, userInfo("1.2", "V", 0))
	ac := associateAC("A", "B", []acCtx{{1, 0, uidImplicitLE}}, userInfo("1.3", "W", 0))
	// A command set over the bound is dropped; the next one is read.
	big := commandSet(us(tagCommandField, cEchoRQ), elem{tag: 0x00000902, vr: "LO", val: make([]byte, maxCommand)})
	// A control PDU over the bound is skipped unread.
	huge := pdu(pduReleaseRQ, make([]byte, maxControlPDU+10))
	segs := []segment{
		{proto.ToServer, rq}, {proto.ToClient, ac},
		{proto.ToServer, pdata(pdv{1, 3, big})},
		{proto.ToServer, huge},
		{proto.ToServer, pdata(pdv{1, 3, echoRQ(2)})},
	}
	out, f := run(t, segs, 1448)
	sum := out.byKind("association-summary")[0].Detail.(*Summary)
	if sum.OversizedCommands != 1 || sum.OversizedPDUs != 1 || sum.Commands["c-echo-rq"] != 1 {
		t.Errorf("summary %+v, kinds %v", sum, out.kinds())
	}
	if f.skipped < maxCommand {
		t.Errorf("skipped %d, want the oversized parts skipped, not held", f.skipped)
	}
}

func TestMalformed(t *testing.T) {
	rq := associateRQ("A", "B", []rqCtx{{1, ctSOP, []string{uidImplicitLE}}}, userInfo("1.2", "V", 0))
	ac := associateAC("A", "B", []acCtx{{1, 0, uidImplicitLE}}, userInfo("1.3", "W", 0))
	badPDV := pdu(pduPData, []byte{0, 0, 0, 50, 1, 3, 0, 0}) // PDV longer than its PDU
	shortPDV := pdu(pduPData, []byte{0, 0, 0, 1, 1, 3})      // PDV length below 2
	badItems := associateRQ("C", "D", nil, nil)
	badItems = append(badItems[:len(badItems)-0], 0)
	binary.BigEndian.PutUint32(badItems[2:], uint32(len(badItems)-6))
	badItems[len(badItems)-1] = 0x50
	badCmd := pdata(pdv{1, 3, []byte{0, 0, 0, 1, 9, 0, 0, 0, 1}}) // element overruns
	cases := []struct {
		name string
		segs []segment
		want []string
	}{
		{"pdv overruns pdu", []segment{{proto.ToServer, rq}, {proto.ToClient, ac}, {proto.ToServer, badPDV}, {proto.ToServer, pdata(pdv{1, 3, echoRQ(3)})}},
			[]string{"associate-rq", "associate-ac", "c-echo-rq", "association-summary"}},
		{"pdv too short", []segment{{proto.ToServer, rq}, {proto.ToServer, shortPDV}, {proto.ToServer, pdata(pdv{1, 3, echoRQ(3)})}},
			[]string{"associate-rq", "c-echo-rq", "association-summary"}},
		{"associate items overrun", []segment{{proto.ToServer, badItems}},
			[]string{"associate-rq", "association-summary"}},
		{"command element overruns", []segment{{proto.ToServer, rq}, {proto.ToServer, badCmd}, {proto.ToServer, pdata(pdv{1, 3, echoRQ(4)})}},
			[]string{"associate-rq", "c-echo-rq", "association-summary"}},
		{"bad pdu type, resync at next pdu", []segment{{proto.ToServer, rq}, {proto.ToServer, []byte{9, 9, 9, 9, 9, 9, 9, 9}},
			{proto.ToServer, pdata(pdv{1, 3, echoRQ(5)})}},
			[]string{"associate-rq", "c-echo-rq", "association-summary"}},
		{"huge pdu length", []segment{{proto.ToServer, rq}, {proto.ToServer, []byte{4, 0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3}}},
			[]string{"associate-rq", "association-summary"}},
		{"reject too short", []segment{{proto.ToServer, rq}, {proto.ToClient, pdu(pduAssociateRJ, []byte{0, 1})}},
			[]string{"associate-rq", "association-summary"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, chunk := range []int{0, 1, 5} {
				out, _ := run(t, c.segs, chunk)
				if got := out.kinds(); !reflect.DeepEqual(got, c.want) {
					t.Fatalf("chunk %d: kinds %v, want %v", chunk, got, c.want)
				}
				if s := out.byKind("association-summary")[0].Detail.(*Summary); s.Malformed == 0 {
					t.Errorf("chunk %d: malformed input not counted: %+v", chunk, s)
				}
			}
		})
	}
}

// TestGap: a hole inside a PDV keeps the framing; a hole across headers
// loses it until the next PDU start.
func TestGap(t *testing.T) {
	rq := associateRQ("A", "B", []rqCtx{{1, ctSOP, []string{uidImplicitLE}}}, userInfo("1.2", "V", 0))
	ds := ctDataSet(implicitLE, 4000)
	store := append(pdata(pdv{1, 3, storeRQ(ctSOP, 1)}), pdata(pdv{1, 2, ds})...)
	echo := pdata(pdv{1, 3, echoRQ(2)})

	out := &sink{}
	s := New().New(testConn(), out)
	f := newFeeder(t, s)
	f.feed(proto.ToServer, rq)
	// Lose 100 bytes in the middle of the data set's patient module.
	cut := len(store) - len(ds) + 40
	f.feed(proto.ToServer, store[:cut])
	s.Gap(proto.ToServer, 100)
	f.feed(proto.ToServer, store[cut+100:])
	f.feed(proto.ToServer, echo)
	// Lose a header: framing is found again at the next PDU.
	f.feed(proto.ToServer, echo[:3])
	s.Gap(proto.ToServer, 50)
	f.feed(proto.ToServer, []byte("garbage after the hole"))
	f.feed(proto.ToServer, pdata(pdv{1, 3, echoRQ(3)}))
	s.End(proto.Meta{})
	want := []string{"associate-rq", "c-store-rq", "c-echo-rq", "c-echo-rq", "association-summary"}
	if got := out.kinds(); !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds %v, want %v", got, want)
	}
	if m := out.obs[1].Detail.(*Message); m.DataSetNote != "gap in data set" {
		t.Errorf("c-store-rq after gap %+v", m)
	}
	if id := *out.obs[3].Detail.(*Message).MessageID; id != 3 {
		t.Errorf("resynchronised on message %d", id)
	}
	if sum := out.obs[4].Detail.(*Summary); sum.Gaps != 2 {
		t.Errorf("summary %+v", sum)
	}
}

// TestMidStream: a flow picked up at a P-DATA-TF PDU is decoded, its role
// facts with lower confidence, data sets of unknown syntax guessed.
func TestMidStream(t *testing.T) {
	ds := ctDataSet(func(es ...elem) []byte { return explicit(binary.LittleEndian, es...) }, 100)
	segs := []segment{
		{proto.ToServer, append(pdata(pdv{3, 3, storeRQ(ctSOP, 5)}), pdata(pdv{3, 2, ds})...)},
		{proto.ToClient, pdata(pdv{3, 3, rsp(0x8001, ctSOP, 5, 0, false)})},
	}
	out, _ := run(t, segs, 0)
	rq := out.byKind("c-store-rq")
	if len(rq) != 1 {
		t.Fatalf("kinds %v", out.kinds())
	}
	if m := rq[0].Detail.(*Message); len(m.PatientAttributes) != 4 {
		t.Errorf("guessed-syntax data set %+v", m)
	}
	for _, f := range rq[0].Facts {
		if f.Confidence != confMidway {
			t.Errorf("mid-stream fact %+v", f)
		}
	}
	if s := out.byKind("association-summary")[0].Detail.(*Summary); !s.MidStream {
		t.Errorf("summary %+v", s)
	}
}

// TestLabStreamsSplit feeds small lab associations (client stream, then
// server stream) cut in two at every position: the observations must not
// change.
func TestLabStreamsSplit(t *testing.T) {
	for _, name := range []string{"echo", "find", "reject"} {
		var sides [2][]byte
		for i, ext := range []string{"client", "server"} {
			b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "lab", name+"."+ext))
			if err != nil {
				t.Fatal(err)
			}
			sides[i] = b
		}
		segs := []segment{{proto.ToServer, sides[0]}, {proto.ToClient, sides[1]}}
		base, _ := run(t, segs, 0)
		if len(base.obs) < 3 {
			t.Fatalf("%s: kinds %v", name, base.kinds())
		}
		want := base.content(t)
		for i := range segs {
			for p := 1; p < len(segs[i].data); p++ {
				cut := append([]segment(nil), segs[:i]...)
				cut = append(cut, segment{segs[i].dir, segs[i].data[:p]}, segment{segs[i].dir, segs[i].data[p:]})
				cut = append(cut, segs[i+1:]...)
				got, _ := run(t, cut, 0)
				if g := got.content(t); g != want {
					t.Fatalf("%s: side %d cut at %d:\n got %s\nwant %s", name, i, p, g, want)
				}
			}
		}
	}
}

// TestOtherCommands: N-* and C-CANCEL are named, a big-endian data set is
// read with its negotiated syntax, a C-MOVE names its destination.
func TestOtherCommands(t *testing.T) {
	const mpps = "1.2.840.10008.3.1.2.3.3"
	ds := explicit(binary.BigEndian, str(0x00100010, "PN", patientName), str(0x00100020, "LO", patientID))
	nCreate := commandSet(str(tagAffectedSOPClass, "UI", mpps), us(tagCommandField, 0x0140), us(tagMessageID, 1), us(tagDataSetType, 0))
	cancel := commandSet(us(tagCommandField, cCancelRQ), us(tagRespondingTo, 1), us(tagDataSetType, dataSetNone))
	move := commandSet(str(tagAffectedSOPClass, "UI", "1.2.840.10008.5.1.4.1.2.2.2"), us(tagCommandField, cMoveRQ), us(tagMessageID, 2),
		us(tagPriority, 2), us(tagDataSetType, dataSetNone), str(tagMoveDestination, "AE", "WS01"))
	segs := []segment{
		{proto.ToServer, associateRQ("MOD", "RIS", []rqCtx{{1, mpps, []string{uidExplicitBE}}}, userInfo("1.2", "V", 0))},
		{proto.ToClient, associateAC("MOD", "RIS", []acCtx{{1, 0, uidExplicitBE}}, userInfo("1.3", "W", 0))},
		{proto.ToServer, pdata(pdv{1, 3, nCreate}, pdv{1, 2, ds})},
		{proto.ToClient, pdata(pdv{1, 3, rsp(0x8140, mpps, 1, 0x0122, false)})},
		{proto.ToServer, pdata(pdv{1, 3, cancel})},
		{proto.ToServer, pdata(pdv{1, 3, move})},
		{proto.ToClient, pdata(pdv{1, 3, rsp(0x8021, "1.2.840.10008.5.1.4.1.2.2.2", 2, 0xa801, false)})},
	}
	out, _ := run(t, segs, 0)
	want := []string{"associate-rq", "associate-ac", "n-create-rq", "n-create-rsp", "c-cancel-rq", "c-move-rq", "c-move-rsp", "association-summary"}
	if got := out.kinds(); !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds %v, want %v", got, want)
	}
	nc := out.obs[2].Detail.(*Message)
	if nc.SOPClassName != "Modality Performed Procedure Step" || len(nc.PatientAttributes) != 2 || nc.TransferSyntax != uidExplicitBE {
		t.Errorf("n-create-rq %+v", nc)
	}
	if r := out.obs[3].Detail.(*Message); r.StatusClass != "failure" || r.StatusText != "Refused: SOP class not supported" {
		t.Errorf("n-create-rsp %+v", r)
	}
	mv := out.obs[5].Detail.(*Message)
	if mv.MoveDestination != "WS01" || mv.Priority != "low" {
		t.Errorf("c-move-rq %+v", mv)
	}
	if r := out.obs[6]; r.Detail.(*Message).StatusText != "Refused: move destination unknown" || len(r.Facts) != 1 {
		t.Errorf("c-move-rsp %+v facts %+v", r.Detail, r.Facts)
	}
	if s := out.obs[7].Detail.(*Summary); s.Failures != 2 {
		t.Errorf("summary %+v", s)
	}
}
