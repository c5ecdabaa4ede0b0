package mqtt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

func TestRemainingLength(t *testing.T) {
	tests := []struct {
		in      []byte
		minimal bool
		v, n    int
		st      lenStatus
	}{
		{[]byte{0}, true, 0, 1, lenOK},
		{[]byte{0x7f}, true, 127, 1, lenOK},
		{[]byte{0x80, 0x01}, true, 128, 2, lenOK},
		{[]byte{0xff, 0x7f}, true, 16383, 2, lenOK},
		{[]byte{0x80, 0x80, 0x01}, true, 16384, 3, lenOK},
		{[]byte{0xff, 0xff, 0xff, 0x7f}, true, 268435455, 4, lenOK},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x01}, false, 0, 0, lenBad},
		{[]byte{0x80, 0x80, 0x80, 0x80}, false, 0, 0, lenBad},
		{[]byte{0x80}, true, 0, 0, lenShort},
		{nil, true, 0, 0, lenShort},
		{[]byte{0x80, 0x00}, true, 0, 0, lenBad},
		{[]byte{0x80, 0x00}, false, 0, 2, lenOK},
	}
	for _, tt := range tests {
		v, n, st := remainingLength(tt.in, tt.minimal)
		if v != tt.v || n != tt.n || st != tt.st {
			t.Errorf("remainingLength(%x, %v) = %d, %d, %d; want %d, %d, %d", tt.in, tt.minimal, v, n, st, tt.v, tt.n, tt.st)
		}
	}
}

func TestProbe(t *testing.T) {
	d := New(nil)
	c := testConn()
	conn311 := connect311(flagClean, 60, "dev1")
	conn5 := pkt(0x10, str("MQTT"), []byte{5, flagClean}, u16(30), props(0x11, 0, 0, 0, 10), str("dev5"))
	conn31 := pkt(0x10, str("MQIsdp"), []byte{3, flagClean}, u16(30), str("old"))
	pub := publish(0x02, "ward/7/bed/3/spo2", 9, `{"spo2":97}`)
	tests := []struct {
		name string
		dir  proto.Dir
		in   []byte
		want proto.Verdict
	}{
		{"empty", proto.ToServer, nil, proto.Unsure},
		{"connect 3.1.1", proto.ToServer, conn311, proto.Yes},
		{"connect 5", proto.ToServer, conn5, proto.Yes},
		{"connect 3.1", proto.ToServer, conn31, proto.Yes},
		{"connect from the guessed server", proto.ToClient, conn311, proto.YesReversed},
		{"connect partial", proto.ToServer, conn311[:5], proto.Unsure},
		{"connect header only", proto.ToServer, conn311[:2], proto.Unsure},
		{"connect wrong level", proto.ToServer, pkt(0x10, str("MQTT"), []byte{3, 2}, u16(1), str("x")), proto.No},
		{"connect wrong name", proto.ToServer, pkt(0x10, str("MQTX"), []byte{4, 2}, u16(1), str("x")), proto.No},
		{"connect reserved flag", proto.ToServer, connect311(flagClean|1, 60, "x"), proto.No},
		{"connect 5-byte length", proto.ToServer, []byte{0x10, 0xff, 0xff, 0xff, 0xff, 0x01}, proto.No},
		{"connack from server", proto.ToClient, connack(0), proto.Yes},
		{"connack server-first", proto.ToServer, connack(0), proto.YesReversed},
		{"connack 5", proto.ToClient, pkt(0x20, []byte{0, 0}, props(0x21, 0, 10)), proto.Yes},
		{"connack bad code", proto.ToClient, connack(9), proto.No},
		{"connack partial", proto.ToClient, connack(0)[:3], proto.Unsure},
		{"mid-stream ping answer and delivery", proto.ToClient, cat(pingresp, pub), proto.Yes},
		{"mid-stream, roles reversed", proto.ToServer, cat(pingresp, pub), proto.YesReversed},
		{"mid-stream ack and publish", proto.ToServer, cat(pkt(0x40, u16(2)), pub), proto.Yes},
		{"mid-stream one publish", proto.ToServer, pub, proto.Unsure},
		{"mid-stream pings only", proto.ToServer, cat(pingreq, pingreq), proto.Unsure},
		{"mid-stream four acks", proto.ToServer, cat(pkt(0x40, u16(2)), pkt(0x40, u16(3)), pkt(0x40, u16(4)), pkt(0x40, u16(5))), proto.Yes},
		{"both roles at once", proto.ToServer, cat(pingreq, pingresp, pub), proto.No},
		{"publish with wildcard topic", proto.ToServer, cat(publish(0, "a/#", 0, "x"), pub), proto.No},
		{"publish qos 3", proto.ToServer, cat([]byte{0x36, 4, 0, 1, 'a', 0}, pub), proto.No},
		{"packet id zero", proto.ToServer, cat(pkt(0x40, u16(0)), pub), proto.No},
		{"non-minimal length mid-stream", proto.ToServer, cat([]byte{0xc0, 0x80, 0x00}, pub), proto.No},
		{"http", proto.ToServer, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), proto.No},
		{"tls", proto.ToServer, []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc}, proto.No},
		{"hl7", proto.ToServer, []byte("\x0bMSH|^~\\&|A|B|C|D|2026||ADT^A01|1|P|2.5\r\x1c\r"), proto.No},
		{"text", proto.ToServer, []byte("1234567890 hello"), proto.No},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Probe(c, tt.dir, tt.in); got != tt.want {
				t.Errorf("Probe(%x) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// fakeDefaults knows one default credential, admin/hunter2 unless set.
type fakeDefaults struct {
	user, password string
	calls          int
}

func (f *fakeDefaults) IsDefault(user, password string) bool {
	f.calls++
	if f.user == "" {
		return user == "admin" && password == "hunter2"
	}
	return user == f.user && password == f.password
}

func run(t testing.TB, dc DefaultChecker, lim Limits, steps func(f *feeder)) *recorder {
	t.Helper()
	rec := &recorder{}
	s := NewWithLimits(dc, lim).New(testConn(), rec)
	f := newFeeder(s)
	steps(f)
	f.end()
	return rec
}

func kinds(r *recorder) []string {
	var k []string
	for _, o := range r.obs {
		k = append(k, o.Kind)
	}
	return k
}

func hasWeakness(o *event.Observation, kind event.WeaknessKind, about event.About) bool {
	for _, w := range o.Weaknesses {
		if w.Kind == kind && w.About == about {
			return true
		}
	}
	return false
}

func hasFact(o *event.Observation, about event.About, attr event.Attr, value string) bool {
	for _, f := range o.Facts {
		if f.About == about && f.Attr == attr && f.Value == value {
			return true
		}
	}
	return false
}

// noSecret fails when any observation carries one of values.
func noSecret(t testing.TB, obs []*event.Observation, values ...string) {
	t.Helper()
	for _, o := range obs {
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

func TestConversation311(t *testing.T) {
	dc := &fakeDefaults{}
	client := cat(
		connect311(flagClean|flagWill|0x08|0x20|flagUser|flagPass, 45, "pump-12",
			str("ward/7/lastwill"), str("offline"), str("admin"), str("hunter2")),
		subscribe(1, "ward/7/cmd/#", 1),
		publish(0x02, "ward/7/pump/12", 2, `{"rate":5.5,"patient_id":"P-991","dob":"1950-01-01"}`),
		publish(0x00, "ward/7/pump/12", 0, `{"rate":5.6}`),
		pingreq,
		disconnect,
	)
	server := cat(connack(0), pkt(0x90, u16(1), []byte{1}), pkt(0x40, u16(2)),
		publish(0x00, "ward/7/cmd/stop", 0, "stop"), pingresp)
	rec := run(t, dc, Limits{}, func(f *feeder) {
		f.feed(proto.ToServer, client)
		f.feed(proto.ToClient, server)
	})
	want := []string{KindConnect, KindSubscribe, KindPublish, KindDisconnect, KindConnack, KindSuback, KindPublish, KindSummary}
	if got := kinds(rec); !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds %v, want %v", got, want)
	}
	c := rec.obs[0].Detail.(*Connect)
	wantC := &Connect{Direction: "to_server", ProtocolName: "MQTT", ProtocolLevel: 4, ClientID: "pump-12", CleanSession: true,
		KeepAliveS: 45, Will: true, WillTopic: "ward/7/lastwill", WillQoS: 1, WillRetain: true,
		UsernamePresent: true, Username: "admin", PasswordPresent: true}
	if !reflect.DeepEqual(c, wantC) {
		t.Errorf("connect\n got %+v\nwant %+v", c, wantC)
	}
	if !hasWeakness(rec.obs[0], event.WeakCleartextCredentials, event.AboutDst) {
		t.Errorf("connect weaknesses %+v", rec.obs[0].Weaknesses)
	}
	if dc.calls != 1 {
		t.Errorf("default checker called %d times", dc.calls)
	}
	ca := rec.obs[4]
	if d := ca.Detail.(*Connack); !d.Accepted || d.ReturnCode != 0 || d.Direction != "to_client" {
		t.Errorf("connack %+v", d)
	}
	if !hasWeakness(ca, event.WeakDefaultCredentials, event.AboutSrc) || hasWeakness(ca, event.WeakUnauthenticated, event.AboutSrc) {
		t.Errorf("connack weaknesses %+v", ca.Weaknesses)
	}
	if !hasFact(ca, event.AboutSrc, event.AttrServer, "mqtt") {
		t.Errorf("connack facts %+v", ca.Facts)
	}
	if s := rec.obs[1].Detail.(*Subscribe); !reflect.DeepEqual(s.Filters, []Filter{{"ward/7/cmd/#", 1}}) {
		t.Errorf("subscribe %+v", s)
	}
	if !hasFact(rec.obs[1], event.AboutSrc, event.AttrClient, "mqtt:subscribe") {
		t.Errorf("subscribe facts %+v", rec.obs[1].Facts)
	}
	p := rec.obs[2]
	wantP := &Publish{Direction: "to_server", Topic: "ward/7/pump/12", QoS: 1, PacketID: 2, PayloadLen: 52, PHIKeys: []string{"patient_id", "dob"}}
	if d := p.Detail.(*Publish); !reflect.DeepEqual(d, wantP) {
		t.Errorf("publish\n got %+v\nwant %+v", d, wantP)
	}
	if !hasFact(p, event.AboutSrc, event.AttrMQTTTopic, "ward/7/pump/12") || !hasFact(p, event.AboutSrc, event.AttrClient, "mqtt:publish") {
		t.Errorf("publish facts %+v", p.Facts)
	}
	if len(p.Weaknesses) != 1 || p.Weaknesses[0].Kind != event.WeakCleartextPHI || p.Weaknesses[0].Detail != "patient keys patient_id, dob in PUBLISH payload" {
		t.Errorf("publish weaknesses %+v", p.Weaknesses)
	}
	if d := rec.obs[5].Detail.(*Suback); !reflect.DeepEqual(d.Codes, []int{1}) {
		t.Errorf("suback %+v", d)
	}
	sum := rec.obs[7].Detail.(*Summary)
	if sum.Publishes != 2 || sum.Deliveries != 1 || sum.ClientID != "pump-12" || sum.Packets["pingreq"] != 1 ||
		len(sum.Topics) != 2 || sum.Topics[0].Count != 2 || sum.Topics[1].Direction != "deliver" || sum.RolesGuessed {
		t.Errorf("summary %+v", sum)
	}
	if sum.BytesToServer != uint64(len(client)) || sum.BytesToClient != uint64(len(server)) {
		t.Errorf("bytes %d/%d, want %d/%d", sum.BytesToServer, sum.BytesToClient, len(client), len(server))
	}
	noSecret(t, rec.obs, "hunter2", "P-991", "1950-01-01")
}

func TestUnauthenticated(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags byte
		rest  []byte
		code  byte
		want  bool
	}{
		{"anonymous accepted", flagClean, nil, 0, true},
		{"user without password accepted", flagClean | flagUser, str("nurse"), 0, true},
		{"password accepted", flagClean | flagUser | flagPass, cat(str("nurse"), str("x")), 0, false},
		{"anonymous refused", flagClean, nil, 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := run(t, nil, Limits{}, func(f *feeder) {
				f.feed(proto.ToServer, connect311(tc.flags, 10, "c", tc.rest))
				f.feed(proto.ToClient, connack(tc.code))
			})
			ca := rec.obs[1]
			if ca.Kind != KindConnack || hasWeakness(ca, event.WeakUnauthenticated, event.AboutSrc) != tc.want {
				t.Errorf("%s weaknesses %+v", ca.Kind, ca.Weaknesses)
			}
		})
	}
}

func TestDefaultCredentialsWithoutAnswer(t *testing.T) {
	rec := run(t, &fakeDefaults{}, Limits{}, func(f *feeder) {
		f.feed(proto.ToServer, connect311(flagUser|flagPass, 10, "c", str("admin"), str("hunter2")))
	})
	sum := rec.kind(KindSummary)
	if len(sum) != 1 || !hasWeakness(sum[0], event.WeakDefaultCredentials, event.AboutDst) {
		t.Fatalf("observations %v, summary %+v", kinds(rec), sum)
	}
	noSecret(t, rec.obs, "hunter2")
}

func TestMQTT5(t *testing.T) {
	// Properties everywhere, each with content, so that a parser that does
	// not skip them by length reads garbage.
	client := cat(
		pkt(0x10, str("MQTT"), []byte{5, flagClean | flagWill | flagUser | flagPass}, u16(20),
			props(0x11, 0, 0, 0x0e, 0x10, 0x21, 0, 20), str("v5-dev"),
			props(0x18, 0, 0, 0, 5), str("dev/will"), str("bye"), str("op"), str("pw5")),
		pkt(0x82, u16(7), props(0x0b, 3), str("cmd/+"), []byte{0x01 | 0x04}),
		pkt(0x32, str("tele/hr"), u16(8), props(0x01, 1, 0x03, 0, 16, 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/', 'j', 's', 'o', 'n'), []byte(`{"hr":71,"patient":{"mrn":"X1"}}`)),
		pkt(0xa2, u16(9), props(), str("cmd/+")),
		pkt(0xe0, []byte{0x04}, props()),
	)
	server := cat(
		pkt(0x20, []byte{0, 0}, props(0x21, 0, 10, 0x24, 1)),
		pkt(0x90, u16(7), props(0x1f, 0, 2, 'o', 'k'), []byte{0x01}),
		pkt(0xb0, u16(9), props(), []byte{0x11}),
	)
	rec := run(t, nil, Limits{}, func(f *feeder) {
		f.feed(proto.ToServer, client)
		f.feed(proto.ToClient, server)
	})
	want := []string{KindConnect, KindSubscribe, KindPublish, KindUnsubscribe, KindDisconnect, KindConnack, KindSuback, KindUnsuback, KindSummary}
	if got := kinds(rec); !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds %v, want %v", got, want)
	}
	c := rec.obs[0].Detail.(*Connect)
	if c.ProtocolLevel != 5 || c.ClientID != "v5-dev" || c.WillTopic != "dev/will" || c.Username != "op" || !c.PasswordPresent || c.Truncated {
		t.Errorf("connect %+v", c)
	}
	if s := rec.obs[1].Detail.(*Subscribe); !reflect.DeepEqual(s.Filters, []Filter{{"cmd/+", 1}}) || s.PacketID != 7 {
		t.Errorf("subscribe %+v", s)
	}
	p := rec.obs[2].Detail.(*Publish)
	if p.Topic != "tele/hr" || p.PacketID != 8 || p.PayloadLen != 32 || !reflect.DeepEqual(p.PHIKeys, []string{"patient", "mrn"}) {
		t.Errorf("publish %+v", p)
	}
	if u := rec.obs[3].Detail.(*Subscribe); !reflect.DeepEqual(u.Filters, []Filter{{"cmd/+", 0}}) {
		t.Errorf("unsubscribe %+v", u)
	}
	if d := rec.obs[4].Detail.(*Disconnect); d.ReasonCode != 4 {
		t.Errorf("disconnect %+v", d)
	}
	if s := rec.obs[6].Detail.(*Suback); !reflect.DeepEqual(s.Codes, []int{1}) {
		t.Errorf("suback %+v", s)
	}
	if s := rec.obs[7].Detail.(*Suback); !reflect.DeepEqual(s.Codes, []int{0x11}) {
		t.Errorf("unsuback %+v", s)
	}
	if sum := rec.obs[8].Detail.(*Summary); sum.Malformed != 0 || sum.ProtocolLevel != 5 {
		t.Errorf("summary %+v", sum)
	}
	noSecret(t, rec.obs, "pw5", "X1")
}

func TestFlood(t *testing.T) {
	var client []byte
	client = append(client, connect311(flagClean, 60, "flooder")...)
	for i := 0; i < 1000; i++ {
		client = append(client, publish(0, "ward/7/pump/12/cmd", 0, `{"cmd":"SET_RATE","rate":999}`)...)
	}
	rec := run(t, nil, Limits{}, func(f *feeder) {
		for i := 0; i < len(client); i += 1448 {
			f.feed(proto.ToServer, client[i:min(i+1448, len(client))])
		}
	})
	if n := len(rec.kind(KindPublish)); n != 1 {
		t.Errorf("%d publish observations for a flood on one topic", n)
	}
	sum := rec.kind(KindSummary)[0].Detail.(*Summary)
	if sum.Publishes != 1000 || len(sum.Topics) != 1 || sum.Topics[0].Count != 1000 || sum.Topics[0].RatePerS <= 0 {
		t.Errorf("summary %+v", sum)
	}
}

func TestTopicBound(t *testing.T) {
	var client []byte
	client = append(client, connect311(flagClean, 60, "many")...)
	for i := 0; i < 100; i++ {
		client = append(client, publish(0, fmt.Sprintf("t/%d", i), 0, "x")...)
		client = append(client, publish(0, fmt.Sprintf("t/%d", i), 0, "y")...)
	}
	rec := run(t, nil, Limits{MaxTopics: 64}, func(f *feeder) { f.feed(proto.ToServer, client) })
	if n := len(rec.kind(KindPublish)); n != 64 {
		t.Errorf("%d publish observations, want 64", n)
	}
	topicFacts := 0
	for _, o := range rec.obs {
		for _, f := range o.Facts {
			if f.Attr == event.AttrMQTTTopic {
				topicFacts++
			}
		}
	}
	if topicFacts != 64 {
		t.Errorf("%d topic facts", topicFacts)
	}
	sum := rec.kind(KindSummary)[0].Detail.(*Summary)
	if len(sum.Topics) != 64 || sum.TopicsDropped != 72 || sum.Publishes != 200 {
		t.Errorf("summary topics %d dropped %d publishes %d", len(sum.Topics), sum.TopicsDropped, sum.Publishes)
	}
}

func TestPHIKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`{"hr":70,"spo2":98}`, nil},
		{`{"patient_mrn":"MRN1","bed":"7"}`, []string{"patient_mrn"}},
		{`{"Patient-ID": "x", "DOB": "1950"}`, []string{"patient_id", "dob"}},
		{`{"patient":{"name":"A B","birthDate":"1950"}}`, []string{"patient", "name", "*birth*"}},
		{`{"patientIdentifier":1}`, []string{"patient*"}},
		{`{"patient_doe_john":1}`, []string{"patient*"}},
		{`mrn=123 ward=7 first_name=Ann`, []string{"mrn", "first_name"}},
		{`mrn: 123`, []string{"mrn"}},
		{`{"device":"name"}`, nil},
		{`{"hostname":"pump"}`, nil},
		{`{"note":"patient: stable"}`, nil},
		{`{"a":"\"mrn\":"}`, nil},
		{"MSH|^~\\&|A|B\rPID|1||X\r", []string{"hl7:PID"}},
		{"MSH|^~\\&|A|B\rOBX|1\r", nil},
		{`{"unterminated`, nil},
		{``, nil},
	}
	for _, tt := range tests {
		var out [maxPHIKeys]string
		n := phiKeys([]byte(tt.in), &out)
		var got []string
		if n > 0 {
			got = out[:n]
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("phiKeys(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestClientSoftware(t *testing.T) {
	tests := map[string]string{
		"mosq-Yx3bX8GqJ0c2qNa9Ab": "libmosquitto",
		"mosqpub|1234-host":       "mosquitto_pub",
		"paho/34AAE54A75D839566E": "Eclipse Paho (Python)",
		"paho123456789012":        "Eclipse Paho (Java)",
		"mqttjs_1a2b3c4d":         "MQTT.js",
		"PUMP-603":                "",
		"paho-dev":                "",
	}
	for id, want := range tests {
		if got := clientSoftware([]byte(id)); got != want {
			t.Errorf("clientSoftware(%q) = %q, want %q", id, got, want)
		}
	}
	rec := run(t, nil, Limits{}, func(f *feeder) { f.feed(proto.ToServer, connect311(flagClean, 60, "mosq-Yx3bX8GqJ0c2qNa9Ab")) })
	if !hasFact(rec.obs[0], event.AboutSrc, event.AttrSoftware, "libmosquitto") {
		t.Errorf("facts %+v", rec.obs[0].Facts)
	}
}

// summarise renders observations without times and frames.
func summarise(r *recorder) string {
	var b strings.Builder
	for _, o := range r.obs {
		d := o.Detail
		if s, ok := d.(*Summary); ok {
			c := *s
			c.DurationS, c.PublishRatePerS = 0, 0
			c.Topics = nil
			for _, t := range s.Topics {
				t.First, t.Last, t.RatePerS = time.Time{}, time.Time{}, 0
				c.Topics = append(c.Topics, t)
			}
			d = &c
		}
		j, _ := json.Marshal(struct {
			K string
			D any
			F []event.Fact
			W []event.Weakness
		}{o.Kind, d, o.Facts, o.Weaknesses})
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSplitEverywhere(t *testing.T) {
	client := cat(
		connect311(flagClean|flagUser|flagPass, 45, "pump-12", str("u"), str("p")),
		subscribe(1, "ward/7/cmd/#", 1),
		publish(0x02, "ward/7/pump/12", 2, `{"rate":5.5,"mrn":"M1"}`),
		publish(0x00, "ward/7/pump/12", 0, strings.Repeat("z", 300)),
		pingreq, disconnect)
	server := cat(connack(0), pkt(0x90, u16(1), []byte{1}), pkt(0x40, u16(2)), publish(0, "ward/7/cmd/x", 0, "stop"), pingresp)
	lim := Limits{PayloadPeek: 64, PublishHead: 64}
	whole := run(t, nil, lim, func(f *feeder) {
		f.feed(proto.ToServer, client)
		f.feed(proto.ToClient, server)
	})
	want := summarise(whole)
	for _, side := range []proto.Dir{proto.ToServer, proto.ToClient} {
		data := client
		if side == proto.ToClient {
			data = server
		}
		for cut := 0; cut <= len(data); cut++ {
			rec := run(t, nil, lim, func(f *feeder) {
				if side == proto.ToServer {
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
				t.Fatalf("%v cut at %d:\n got %s\nwant %s", side, cut, got, want)
			}
		}
	}
	rec := run(t, nil, lim, func(f *feeder) {
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

func TestLargePayloadSkipped(t *testing.T) {
	big := publish(0x02, "imaging/study", 5, strings.Repeat("B", 1<<20))
	client := cat(connect311(flagClean, 60, "modality"), big, publish(0, "imaging/done", 0, "ok"))
	rec := &recorder{}
	s := New(nil).New(testConn(), rec)
	f := newFeeder(s)
	held := 0
	for i := 0; i < len(client); i += 1448 {
		f.feed(proto.ToServer, client[i:min(i+1448, len(client))])
		held = max(held, len(f.held[proto.ToServer]))
	}
	f.end()
	if held > DefaultLimits.PublishHead+DefaultLimits.PayloadPeek+8 {
		t.Errorf("held up to %d bytes", held)
	}
	pubs := rec.kind(KindPublish)
	if len(pubs) != 2 || pubs[0].Detail.(*Publish).PayloadLen != 1<<20 || pubs[1].Detail.(*Publish).Topic != "imaging/done" {
		t.Fatalf("publishes %v", kinds(rec))
	}
}

func TestMalformedAndResync(t *testing.T) {
	good := publish(0, "a/b", 0, "1")
	rec := run(t, nil, Limits{}, func(f *feeder) {
		f.feed(proto.ToServer, connect311(flagClean, 60, "c"))
		// A five-byte remaining length: the stream is lost …
		f.feed(proto.ToServer, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0})
		f.feed(proto.ToServer, []byte("garbage that is not mqtt"))
		// … until a segment starts with whole packets.
		f.feed(proto.ToServer, cat(good, publish(0, "a/c", 0, "2")))
		f.gap(proto.ToServer, 100)
		f.feed(proto.ToServer, []byte{0x10, 0x00, 0x00})
		f.feed(proto.ToServer, publish(0, "a/d", 0, "3"))
	})
	sum := rec.kind(KindSummary)[0].Detail.(*Summary)
	if sum.Desyncs != 1 || sum.Gaps != 1 || sum.Publishes != 3 {
		t.Errorf("summary %+v", sum)
	}
	var topics []string
	for _, o := range rec.kind(KindPublish) {
		topics = append(topics, o.Detail.(*Publish).Topic)
	}
	if !reflect.DeepEqual(topics, []string{"a/b", "a/c", "a/d"}) {
		t.Errorf("topics %v", topics)
	}
}

func TestMidStreamRoles(t *testing.T) {
	// A flow seen from its middle, with the engine's roles the wrong way
	// round: the broker's port is on the "client" side.
	c := testConn()
	c.Client, c.Server = c.Server, c.Client
	rec := &recorder{}
	s := New(nil).New(c, rec)
	f := newFeeder(s)
	// The real client (engine's server) publishes, then pings.
	f.feed(proto.ToClient, cat(publish(0x02, "ward/1/hr", 4, "70"), pkt(0x40, u16(9))))
	f.feed(proto.ToServer, cat(pkt(0x40, u16(4)), publish(0x02, "ward/1/cmd", 9, "x")))
	f.feed(proto.ToClient, pingreq)
	f.feed(proto.ToClient, publish(0x02, "ward/1/spo2", 5, "97"))
	f.end()
	pubs := rec.kind(KindPublish)
	if len(pubs) != 3 {
		t.Fatalf("kinds %v", kinds(rec))
	}
	first := pubs[0].Detail.(*Publish)
	if first.Direction != "to_server" || len(pubs[0].Facts) != 0 {
		t.Errorf("first publish before roles were known: %+v facts %+v", first, pubs[0].Facts)
	}
	if !hasFact(pubs[2], event.AboutSrc, event.AttrMQTTTopic, "ward/1/spo2") || !hasFact(pubs[2], event.AboutSrc, event.AttrClient, "mqtt") {
		t.Errorf("facts after the PINGREQ showed the roles: %+v", pubs[2].Facts)
	}
	sum := rec.kind(KindSummary)[0]
	if sum.Src != c.Server || sum.Detail.(*Summary).RolesGuessed || sum.Detail.(*Summary).Publishes != 2 {
		t.Errorf("summary from %v: %+v", sum.Src, sum.Detail)
	}
}

func BenchmarkSession(b *testing.B) {
	var flood []byte
	for i := 0; i < 100; i++ {
		flood = append(flood, publish(0x02, "ward/7/pump/12/telemetry", i+1, `{"pump":"P1","rate":5.5,"state":"INFUSING","battery":87}`)...)
	}
	s := New(nil).New(testConn(), discard{})
	s.Feed(proto.ToServer, connect311(flagClean, 60, "bench"), proto.Meta{})
	b.ReportAllocs()
	b.SetBytes(int64(len(flood)))
	for b.Loop() {
		s.Feed(proto.ToServer, flood, proto.Meta{})
	}
}

func BenchmarkProbe(b *testing.B) {
	d := New(nil)
	c := testConn()
	data := cat(pingresp, publish(0x02, "ward/7/pump/12/telemetry", 1, "{}"), pkt(0x40, u16(3)))
	b.ReportAllocs()
	for b.Loop() {
		d.Probe(c, proto.ToServer, data)
	}
}

type discard struct{}

func (discard) Observe(*event.Observation) {}
