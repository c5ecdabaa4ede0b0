package hl7

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Messages built from the HL7 v2.5.1 standard's examples, with invented
// patients.
const (
	adtA01 = "MSH|^~\\&|REGADT|MCM|IFENG|HUB|20260101120000||ADT^A01^ADT_A01|CTRL0001|P|2.5.1\r" +
		"EVN|A01|20260101120000\r" +
		"PID|1||PATID1234^^^MCM^MR||EVERYWOMAN^EVE^E||19620320|F|||2222 HOME STREET^^GREENSBORO^NC^27401\r" +
		"NK1|1|EVERYMAN^ADAM^A|SPO\r" +
		"PV1|1|I|2000^2012^01||||004777^ATTEND^AARON^A|||SUR\r" +
		"OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F\r"
	ackAA  = "MSH|^~\\&|IFENG|HUB|REGADT|MCM|20260101120001||ACK^A01^ACK|ACK0001|P|2.5.1\rMSA|AA|CTRL0001\r"
	ackAE  = "MSH|^~\\&|IFENG|HUB|REGADT|MCM|20260101120001||ACK^A01^ACK|ACK0002|P|2.5.1\rMSA|AE|CTRL0002\rERR|^^^207&Application internal error&HL70357\r"
	oruR01 = "MSH|^~\\&|LAB|MCM|EMR|MCM|20260101120002||ORU^R01^ORU_R01|CTRL0002|T|2.4\r" +
		"PID|1||PATID5678^^^MCM^MR||DOE^JOHN||19700101|M\r" +
		"OBR|1|ORD1|FIL1|GLU^Glucose\r" +
		"OBX|1|NM|2345-7^Glucose^LN||182|mg/dL|70-105|H|||F\r"
)

func mllp(msgs ...string) []byte {
	var b bytes.Buffer
	for _, m := range msgs {
		b.WriteByte(startBlock)
		b.WriteString(m)
		b.WriteByte(endBlock)
		b.WriteByte(carriageRt)
	}
	return b.Bytes()
}

func TestProbe(t *testing.T) {
	d := New()
	c := testConn()
	tail := "BX|3|NM|8310-5^Body temperature^LN||39.3|Cel|||||F\r\x1c\r"
	tests := []struct {
		name string
		in   string
		want proto.Verdict
	}{
		{"empty", "", proto.Unsure},
		{"start block only", "\x0b", proto.Unsure},
		{"partial name", "\x0bMS", proto.Unsure},
		{"partial encoding", "\x0bMSH|^~", proto.Unsure},
		{"mllp msh", "\x0bMSH|^~\\&|APP|", proto.Yes},
		{"mllp fhs", "\x0bFHS|^~\\&|APP|", proto.Yes},
		{"mllp bhs", "\x0bBHS|^~\\&|APP|", proto.Yes},
		{"mllp other separators", "\x0bMSH#@!$%#APP#", proto.Yes},
		{"mllp v2.7 truncation char", "\x0bMSH|^~\\&#|APP|", proto.Yes},
		{"mllp separator is a letter", "\x0bMSHA^~\\&A", proto.No},
		{"mllp repeated encoding char", "\x0bMSH|^^\\&|", proto.No},
		{"mllp no encoding chars", "\x0bMSH||", proto.No},
		{"mllp too many encoding chars", "\x0bMSH|^~\\&#!|", proto.No},
		{"mllp not a header", "\x0bPID|1|", proto.No},
		{"raw default", "MSH|^~\\&|APP|FAC|", proto.Yes},
		{"raw prefix", "MSH|^~", proto.Unsure},
		{"raw other separators", "MSH#@!$%#APP#", proto.No},
		{"raw fhs", "FHS|^~\\&|", proto.No},
		{"mid-message resync", tail + "\x0bMSH|^~\\&|HIS|", proto.Yes},
		{"mid-message no frame yet", tail[:40], proto.No},
		{"mid-message segment boundary", "abc\rOBX|2|NM|", proto.Unsure},
		{"mid-message end block", "abc\x1c\r", proto.Unsure},
		{"http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", proto.No},
		{"tls", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", proto.No},
		{"mqtt", "\x10\x13\x00\x04MQTT\x04\x02\x00<\x00\x07client1", proto.No},
		{"binary with start block", "\x00\x01\x0b\x02MSH", proto.No},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Probe(c, proto.ToServer, []byte(tt.in)); got != tt.want {
				t.Errorf("Probe(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func run(t testing.TB, lim Limits, steps func(f *feeder)) *recorder {
	t.Helper()
	rec := &recorder{}
	s := NewWithLimits(lim).New(testConn(), rec)
	f := newFeeder(s)
	steps(f)
	f.end()
	return rec
}

func detailOf(t testing.TB, o *event.Observation) *Detail {
	t.Helper()
	d, ok := o.Detail.(*Detail)
	if !ok {
		t.Fatalf("detail is %T", o.Detail)
	}
	return d
}

func TestMessageAndAck(t *testing.T) {
	rec := run(t, Limits{}, func(f *feeder) {
		f.feed(proto.ToServer, mllp(adtA01))
		f.feed(proto.ToClient, mllp(ackAA))
	})
	msgs, acks := rec.kind(KindMessage), rec.kind(KindAck)
	if len(msgs) != 1 || len(acks) != 1 || len(rec.kind(KindSummary)) != 1 {
		t.Fatalf("kinds: %v", kinds(rec))
	}
	m := detailOf(t, msgs[0])
	want := &Detail{
		Direction: "to_server", Framing: "mllp", FieldSeparator: "|", EncodingCharacters: "^~\\&",
		SendingApplication: "REGADT", SendingFacility: "MCM", ReceivingApplication: "IFENG", ReceivingFacility: "HUB",
		MessageType: "ADT^A01", MessageCode: "ADT", TriggerEvent: "A01", MessageStructure: "ADT_A01",
		ControlID: "CTRL0001", ProcessingID: "P", Version: "2.5.1",
		Segments:     []SegmentCount{{"MSH", 1}, {"EVN", 1}, {"PID", 1}, {"NK1", 1}, {"PV1", 1}, {"OBX", 1}},
		SegmentCount: 6, Size: len(adtA01),
		PHISegments: []string{"PID", "NK1", "PV1", "OBX"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("message detail\n got %+v\nwant %+v", m, want)
	}
	if msgs[0].Src != testConn().Client {
		t.Errorf("message src %v", msgs[0].Src)
	}
	wantW := []event.Weakness{{Kind: event.WeakCleartextPHI, About: event.AboutSrc, Detail: "PID, NK1, PV1, OBX segments in ADT^A01"}}
	if !reflect.DeepEqual(msgs[0].Weaknesses, wantW) {
		t.Errorf("weaknesses %+v", msgs[0].Weaknesses)
	}
	wantF := []event.Fact{
		{About: event.AboutSrc, Attr: event.AttrHL7App, Value: "REGADT^MCM", Confidence: 0.9},
		{About: event.AboutDst, Attr: event.AttrHL7App, Value: "IFENG^HUB", Confidence: 0.7},
		{About: event.AboutSrc, Attr: event.AttrClient, Value: "hl7", Confidence: 0.9},
		{About: event.AboutSrc, Attr: event.AttrClient, Value: "hl7:ADT", Confidence: 0.9},
	}
	if !reflect.DeepEqual(msgs[0].Facts, wantF) {
		t.Errorf("facts %+v", msgs[0].Facts)
	}
	a := detailOf(t, acks[0])
	if a.AckCode != "AA" || a.AckControlID != "CTRL0001" || a.AckedType != "ADT^A01" || a.MessageType != "ACK^A01" || a.ErrSegment {
		t.Errorf("ack detail %+v", a)
	}
	if a.AckLatencyMS <= 0 {
		t.Errorf("ack latency %v", a.AckLatencyMS)
	}
	wantAF := []event.Fact{
		{About: event.AboutSrc, Attr: event.AttrHL7App, Value: "IFENG^HUB", Confidence: 0.9},
		{About: event.AboutSrc, Attr: event.AttrServer, Value: "hl7", Confidence: 0.9},
		{About: event.AboutSrc, Attr: event.AttrServer, Value: "hl7:ADT", Confidence: 0.9},
	}
	if !reflect.DeepEqual(acks[0].Facts, wantAF) {
		t.Errorf("ack facts %+v", acks[0].Facts)
	}
	if len(acks[0].Weaknesses) != 0 {
		t.Errorf("ack weaknesses %+v", acks[0].Weaknesses)
	}
	sum := detailOf(t, rec.kind(KindSummary)[0])
	if sum.Messages != 1 || sum.Acks != 1 || sum.AckCodes["AA"] != 1 || sum.MessageTypes["ADT^A01"] != 1 || sum.Unacked != 0 {
		t.Errorf("summary %+v", sum)
	}
	noPatientData(t, rec, "EVERYWOMAN", "PATID1234", "19620320", "HOME STREET", "EVERYMAN", "2000^2012", "Heart rate")
}

// noPatientData fails when any observation carries one of values.
func noPatientData(t testing.TB, rec *recorder, values ...string) {
	t.Helper()
	for _, o := range rec.obs {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("observation carries %q: %s", v, b)
			}
		}
	}
}

func kinds(r *recorder) []string {
	var k []string
	for _, o := range r.obs {
		k = append(k, o.Kind)
	}
	return k
}

func TestNegativeAckWithErr(t *testing.T) {
	rec := run(t, Limits{}, func(f *feeder) {
		f.feed(proto.ToServer, mllp(oruR01))
		f.feed(proto.ToClient, mllp(ackAE))
	})
	acks := rec.kind(KindAck)
	if len(acks) != 1 {
		t.Fatalf("kinds %v", kinds(rec))
	}
	a := detailOf(t, acks[0])
	if a.AckCode != "AE" || !a.ErrSegment || a.AckedType != "ORU^R01" {
		t.Errorf("ack %+v", a)
	}
	m := detailOf(t, rec.kind(KindMessage)[0])
	if m.ProcessingID != "T" || m.Version != "2.4" || !reflect.DeepEqual(m.PHISegments, []string{"PID", "OBX"}) {
		t.Errorf("message %+v", m)
	}
	sum := detailOf(t, rec.kind(KindSummary)[0])
	if sum.AckCodes["AE"] != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestNonDefaultSeparators(t *testing.T) {
	msg := "MSH#@!$%#SEND@X#SFAC#RECV#RFAC#20260101##ADT@A04@ADT_A01#C-9#D@T#2.3.1\rPID#1##ID77@@@H##DOE@JANE\r"
	rec := run(t, Limits{}, func(f *feeder) { f.feed(proto.ToServer, mllp(msg)) })
	ms := rec.kind(KindMessage)
	if len(ms) != 1 {
		t.Fatalf("kinds %v", kinds(rec))
	}
	d := detailOf(t, ms[0])
	if d.FieldSeparator != "#" || d.EncodingCharacters != "@!$%" || d.SendingApplication != "SEND" ||
		d.SendingFacility != "SFAC" || d.MessageType != "ADT^A04" || d.MessageStructure != "ADT_A01" ||
		d.ControlID != "C-9" || d.ProcessingID != "D" || d.Version != "2.3.1" {
		t.Errorf("detail %+v", d)
	}
	if !reflect.DeepEqual(d.PHISegments, []string{"PID"}) {
		t.Errorf("phi %v", d.PHISegments)
	}
	if ms[0].Facts[0].Value != "SEND^SFAC" {
		t.Errorf("app fact %+v", ms[0].Facts[0])
	}
}

func TestPHIRules(t *testing.T) {
	hdr := "MSH|^~\\&|A|B|C|D|2026||ADT^A01|X1|P|2.5\r"
	tests := []struct {
		name string
		segs string
		want []string
	}{
		{"no patient segments", "EVN|A01\r", nil},
		{"empty pid", "PID|1\r", nil},
		{"pid", "PID|1||123\r", []string{"PID"}},
		{"pv1 class only", "PV1|1|O|||||^^^^\r", nil},
		{"pv1 location", "PV1|1|I|ICU^01\r", []string{"PV1"}},
		{"pv1 visit number", "PV1|1|O" + strings.Repeat("|", 17) + "V123\r", []string{"PV1"}},
		{"obx without identity", "OBR|1\rOBX|1|NM|8867-4||80|/min\r", nil},
		{"obx empty value with pid", "PID|1||123\rOBX|1|NM|8867-4||\r", []string{"PID"}},
		{"al1 with pid", "PID|1||123\rAL1|1||^Penicillin\r", []string{"PID", "AL1"}},
		{"mrg", "MRG|OLD123\r", []string{"MRG"}},
		{"guarantor and insurance", "GT1|1||DOE^J\rIN1|1|PLAN\r", []string{"GT1", "IN1"}},
		{"quoted nulls do not count", "PID|1|\"\"|\"\"\r", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := run(t, Limits{}, func(f *feeder) { f.feed(proto.ToServer, mllp(hdr+tt.segs)) })
			ms := rec.kind(KindMessage)
			if len(ms) != 1 {
				t.Fatalf("kinds %v", kinds(rec))
			}
			d := detailOf(t, ms[0])
			if !reflect.DeepEqual(d.PHISegments, tt.want) {
				t.Errorf("phi %v, want %v", d.PHISegments, tt.want)
			}
			if (len(ms[0].Weaknesses) > 0) != (tt.want != nil) {
				t.Errorf("weaknesses %+v", ms[0].Weaknesses)
			}
		})
	}
}

// TestSplitEverywhere feeds a conversation split in two at every offset of
// each direction and expects the same observations as unsplit.
func TestSplitEverywhere(t *testing.T) {
	client := mllp(adtA01, oruR01)
	server := mllp(ackAA, ackAE)
	whole := run(t, Limits{}, func(f *feeder) {
		f.feed(proto.ToServer, client)
		f.feed(proto.ToClient, server)
	})
	want := summarise(whole)
	for _, tc := range []struct {
		dir  proto.Dir
		data []byte
	}{{proto.ToServer, client}, {proto.ToClient, server}} {
		for cut := 0; cut <= len(tc.data); cut++ {
			rec := run(t, Limits{}, func(f *feeder) {
				if tc.dir == proto.ToServer {
					f.feed(proto.ToServer, client[:cut])
					f.feed(proto.ToServer, client[cut:])
					f.feed(proto.ToClient, server)
				} else {
					f.feed(proto.ToServer, client)
					f.feed(proto.ToClient, server[:cut])
					f.feed(proto.ToClient, server[cut:])
				}
			})
			if got := summarise(rec); got != want {
				t.Fatalf("dir %v cut %d:\n got %s\nwant %s", tc.dir, cut, got, want)
			}
		}
	}
	// One byte at a time.
	rec := run(t, Limits{}, func(f *feeder) {
		for i := range client {
			f.feed(proto.ToServer, client[i:i+1])
		}
		for i := range server {
			f.feed(proto.ToClient, server[i:i+1])
		}
	})
	if got := summarise(rec); got != want {
		t.Fatalf("byte by byte:\n got %s\nwant %s", got, want)
	}
}

// summarise renders observations without times and frames, which depend on
// how the data was cut.
func summarise(r *recorder) string {
	var b strings.Builder
	for _, o := range r.obs {
		d := *o.Detail.(*Detail)
		d.AckLatencyMS, d.DurationS = 0, 0
		j, _ := json.Marshal(struct {
			K string
			D Detail
			F []event.Fact
			W []event.Weakness
		}{o.Kind, d, o.Facts, o.Weaknesses})
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestLongSegmentSkipped(t *testing.T) {
	big := "MSH|^~\\&|LAB|X|EMR|Y|2026||ORU^R01|BIG1|P|2.5\rPID|1||ID9\rOBX|1|ED|PDF||^AP^PDF^Base64^" +
		strings.Repeat("QUJD", 50000) + "\rOBX|2|NM|HR||70\rNTE|1||note\r"
	rec := run(t, Limits{}, func(f *feeder) {
		data := mllp(big, oruR01)
		for i := 0; i < len(data); i += 1460 {
			f.feed(proto.ToServer, data[i:min(i+1460, len(data))])
		}
	})
	ms := rec.kind(KindMessage)
	if len(ms) != 2 {
		t.Fatalf("kinds %v", kinds(rec))
	}
	d := detailOf(t, ms[0])
	want := []SegmentCount{{"MSH", 1}, {"PID", 1}, {"OBX", 2}, {"NTE", 1}}
	if !reflect.DeepEqual(d.Segments, want) || d.Size != len(big) || d.Oversize || d.Truncated {
		t.Errorf("detail %+v", d)
	}
	if detailOf(t, ms[1]).ControlID != "CTRL0002" {
		t.Errorf("second message %+v", detailOf(t, ms[1]))
	}
}

func TestOversizeResync(t *testing.T) {
	big := "MSH|^~\\&|LAB|X|EMR|Y|2026||ORU^R01|BIG1|P|2.5\r" + strings.Repeat("NTE|1||"+strings.Repeat("x", 90)+"\r", 200)
	rec := run(t, Limits{MaxMessage: 8 << 10}, func(f *feeder) {
		f.feed(proto.ToServer, mllp(big, adtA01))
	})
	ms := rec.kind(KindMessage)
	if len(ms) != 2 {
		t.Fatalf("kinds %v", kinds(rec))
	}
	if d := detailOf(t, ms[0]); !d.Oversize || d.ControlID != "BIG1" {
		t.Errorf("first %+v", d)
	}
	if d := detailOf(t, ms[1]); d.Oversize || d.ControlID != "CTRL0001" {
		t.Errorf("second %+v", d)
	}
	if sum := detailOf(t, rec.kind(KindSummary)[0]); sum.Oversized != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestGapResync(t *testing.T) {
	first := mllp(adtA01)
	rec := run(t, Limits{}, func(f *feeder) {
		f.feed(proto.ToServer, first[:100])
		f.gap(proto.ToServer, 50)
		// The stream resumes mid-message, then a whole one follows.
		f.feed(proto.ToServer, first[150:])
		f.feed(proto.ToServer, mllp(oruR01))
	})
	ms := rec.kind(KindMessage)
	if len(ms) != 2 {
		t.Fatalf("kinds %v", kinds(rec))
	}
	if d := detailOf(t, ms[0]); !d.Truncated || d.ControlID != "CTRL0001" {
		t.Errorf("first %+v", d)
	}
	if d := detailOf(t, ms[1]); d.Truncated || d.ControlID != "CTRL0002" {
		t.Errorf("second %+v", d)
	}
	sum := detailOf(t, rec.kind(KindSummary)[0])
	if sum.Gaps != 1 || sum.JunkBytes == 0 || sum.TruncatedMsgs != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestMidStreamStart(t *testing.T) {
	data := mllp(adtA01, oruR01)
	rec := run(t, Limits{}, func(f *feeder) { f.feed(proto.ToServer, data[37:]) })
	ms := rec.kind(KindMessage)
	if len(ms) != 1 || detailOf(t, ms[0]).ControlID != "CTRL0002" {
		t.Fatalf("messages %v", kinds(rec))
	}
}

func TestUnframed(t *testing.T) {
	rec := run(t, Limits{}, func(f *feeder) {
		f.feed(proto.ToServer, []byte(adtA01))
		// The answer ends the message it answers.
		f.feed(proto.ToClient, []byte(ackAA))
		f.feed(proto.ToServer, []byte("\n"+strings.ReplaceAll(oruR01, "\r", "\r\n")))
	})
	if got := kinds(rec); !reflect.DeepEqual(got, []string{KindMessage, KindAck, KindMessage, KindSummary}) {
		t.Fatalf("kinds %v", got)
	}
	m := detailOf(t, rec.obs[0])
	if m.Framing != "none" || m.ControlID != "CTRL0001" || m.SegmentCount != 6 || m.Truncated {
		t.Errorf("first %+v", m)
	}
	if a := detailOf(t, rec.obs[1]); a.AckedType != "ADT^A01" || a.Truncated {
		t.Errorf("ack %+v", a)
	}
	if m := detailOf(t, rec.obs[2]); m.ControlID != "CTRL0002" || m.SegmentCount != 4 {
		t.Errorf("last %+v", m)
	}
}

func TestBatch(t *testing.T) {
	batch := "FHS|^~\\&|LAB|X|EMR|Y|2026\rBHS|^~\\&|LAB|X|EMR|Y|2026\r" + oruR01 + strings.Replace(oruR01, "CTRL0002", "CTRL0003", 1) + "BTS|2\rFTS|1\r"
	rec := run(t, Limits{}, func(f *feeder) { f.feed(proto.ToServer, mllp(batch)) })
	ms := rec.kind(KindMessage)
	if len(ms) != 2 {
		t.Fatalf("kinds %v", kinds(rec))
	}
	for i, want := range []string{"CTRL0002", "CTRL0003"} {
		d := detailOf(t, ms[i])
		if !d.Batch || d.ControlID != want || d.SegmentCount != 4 {
			t.Errorf("message %d: %+v", i, d)
		}
	}
	// One weakness for the flow: both messages say the same.
	if len(ms[0].Weaknesses) != 1 || len(ms[1].Weaknesses) != 0 {
		t.Errorf("weaknesses %+v / %+v", ms[0].Weaknesses, ms[1].Weaknesses)
	}
}

func TestMalformed(t *testing.T) {
	inputs := []string{
		"\x0b\x0b\x0b\x1c\x1c\r",
		"\x0bPID|1||x\r\x1c\r",
		"\x0bMSH\r\x1c\r",
		"\x0bMSH|\r\x1c\r",
		"\x0bMSH|^~\\&\x1c\r",
		"\x0bmsh|^~\\&|\r\x1c\r",
		"\x0bMSH|^~\\&|" + strings.Repeat("|", 5000) + "\x1c\r",
		"\x0bMSH|^~\\&|\xff\xfe\x00\x01|B|C|D|E||F^G|H|I|J\r\x1c\r",
		strings.Repeat("\x0bMSH|^~\\&|A\r", 100),
	}
	for i, in := range inputs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			rec := run(t, Limits{}, func(f *feeder) { f.feed(proto.ToServer, []byte(in)) })
			for _, o := range rec.obs {
				if _, err := json.Marshal(o); err != nil {
					t.Fatalf("marshal: %v", err)
				}
			}
		})
	}
	rec := run(t, Limits{}, func(f *feeder) {
		f.feed(proto.ToServer, []byte("\x0bMSH|^~\\&|\xff\xfeAPP|B|C|D|E||F^G|H|I|J\r\x1c\r"))
	})
	if d := detailOf(t, rec.kind(KindMessage)[0]); d.SendingApplication != "??APP" {
		t.Errorf("sending application %q", d.SendingApplication)
	}
}

func TestFactsOncePerFlow(t *testing.T) {
	rec := run(t, Limits{}, func(f *feeder) {
		for i := 0; i < 5; i++ {
			f.feed(proto.ToServer, mllp(adtA01))
			f.feed(proto.ToClient, mllp(ackAA))
		}
	})
	n := 0
	for _, o := range rec.obs {
		n += len(o.Facts)
	}
	// 4 on the first message, 3 on the first ack (the receiver's name,
	// stated by itself, again with more confidence).
	if n != 7 {
		t.Errorf("%d facts", n)
	}
	if d := detailOf(t, rec.kind(KindSummary)[0]); d.Messages != 5 || d.Acks != 5 {
		t.Errorf("summary %+v", d)
	}
}

func BenchmarkSession(b *testing.B) {
	client := mllp(adtA01, oruR01)
	server := mllp(ackAA, ackAE)
	s := New().New(testConn(), discard{})
	m := proto.Meta{}
	b.ReportAllocs()
	b.SetBytes(int64(len(client) + len(server)))
	for b.Loop() {
		s.Feed(proto.ToServer, client, m)
		s.Feed(proto.ToClient, server, m)
	}
}

func BenchmarkProbe(b *testing.B) {
	d := New()
	c := testConn()
	data := mllp(adtA01)
	b.ReportAllocs()
	for b.Loop() {
		d.Probe(c, proto.ToServer, data)
	}
}

type discard struct{}

func (discard) Observe(*event.Observation) {}
