package mqtt

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// noPorts hides the dissector's ports so that only content can claim a
// flow.
type noPorts struct{ *Dissector }

func (noPorts) Ports() []uint16 { return nil }

func byKind(obs []*event.Observation, kind string) []*event.Observation {
	var out []*event.Observation
	for _, o := range obs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// TestNDPIConnects checks the CONNECT fields of nDPI's mqtt.pcap and
// coap_mqtt.pcap against what
// `tshark -Y mqtt.msgtype==1 -T fields -e mqtt.protoname -e mqtt.ver
// -e mqtt.clientid -e mqtt.kalive -e mqtt.conflag.cleansess
// -e mqtt.conflag.uname -e mqtt.conflag.passwd -e mqtt.username` reads.
func TestNDPIConnects(t *testing.T) {
	type row struct {
		name       string
		level      int
		id         string
		keepAlive  int
		clean      bool
		user, pass bool
		username   string
	}
	for _, tc := range []struct {
		file string
		want []row
	}{
		{"pcap/ndpi/mqtt.pcap", []row{
			{"MQIsdp", 3, "cbaabcbabacbbbbbaaaaab", 20, true, true, true, "02D5050223D3"},
			{"MQTT", 4, "P47775ID170W2120", 600, false, true, true, "iotazewpmlithub.azure-devices.net/P47775ID170W2120/?api-version=2018-06-30"},
		}},
		{"pcap/ndpi/coap_mqtt.pcap", []row{{"MQTT", 4, "Bus41", 60, true, false, false, ""}}},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{noPorts{New(nil)}}, testenv.DataFile(t, tc.file))
			var got []row
			for _, o := range byKind(r.Observations, KindConnect) {
				c := o.Detail.(*Connect)
				got = append(got, row{c.ProtocolName, c.ProtocolLevel, c.ClientID, c.KeepAliveS, c.CleanSession, c.UsernamePresent, c.PasswordPresent, c.Username})
				if c.PasswordPresent != hasWeakness(o, event.WeakCleartextCredentials, event.AboutDst) {
					t.Errorf("%s: cleartext-credentials %+v", c.ClientID, o.Weaknesses)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("connects\n got %+v\nwant %+v", got, tc.want)
			}
			// The Azure shared access signature is the second flow's password.
			noSecret(t, r.Observations, "SharedAccessSignature", "sig=")
		})
	}
}

// TestNDPICoapMQTT checks the publication counts of coap_mqtt.pcap's four
// MQTT flows (broker on port 17501, three seen from their middle), as
// `tshark -d tcp.port==17501,mqtt -Y mqtt.msgtype==3 -T fields -e tcp.stream
// -e ip.src -e mqtt.topic` counts them: the client publishes Bus17Info, the
// broker delivers Bus17Cmd.
func TestNDPICoapMQTT(t *testing.T) {
	r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{noPorts{New(nil)}}, testenv.DataFile(t, "pcap/ndpi/coap_mqtt.pcap"))
	want := map[uint16][2]int{53522: {9, 9}, 53523: {9, 9}, 53524: {9, 9}, 53528: {11, 10}}
	got := map[uint16][2]int{}
	for _, o := range byKind(r.Observations, KindSummary) {
		s := o.Detail.(*Summary)
		if o.Dst.Port != 17501 {
			t.Errorf("summary from %v to %v: broker not on 17501", o.Src, o.Dst)
		}
		var c [2]int
		for _, ts := range s.Topics {
			switch {
			case ts.Topic == "Bus17Info" && ts.Direction == "publish":
				c[0] = ts.Count
			case ts.Topic == "Bus17Cmd" && ts.Direction == "deliver":
				c[1] = ts.Count
			default:
				t.Errorf("flow %d: unexpected topic %+v", o.Src.Port, ts)
			}
		}
		got[o.Src.Port] = c
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("publish/deliver counts %v, want %v", got, want)
	}
}

// TestNDPIVerdicts runs every nDPI capture and expects mqtt to claim exactly
// the flows nDPI calls MQTT.
func TestNDPIVerdicts(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "pcap", "ndpi")
	outs, err := filepath.Glob(filepath.Join(dir, "*.out"))
	if err != nil || len(outs) == 0 {
		t.Fatalf("no nDPI outputs in %s: %v", dir, err)
	}
	total := 0
	for _, out := range outs {
		pcap := strings.TrimSuffix(out, ".out")
		t.Run(filepath.Base(pcap), func(t *testing.T) {
			want := ndpiFlows(t, out, "MQTT")
			total += len(want)
			r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{noPorts{New(nil)}}, pcap)
			got := map[string]bool{}
			for _, f := range r.Flows {
				if f.Proto == "mqtt" {
					got[pairKey(netip.AddrPortFrom(f.Client.IP, f.Client.Port).String(),
						netip.AddrPortFrom(f.Server.IP, f.Server.Port).String())] = true
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("mqtt flows %v, nDPI says %v", got, want)
			}
		})
	}
	if total == 0 {
		t.Error("nDPI reports no MQTT flow at all: the outputs were not understood")
	}
}

// ndpiFlows reads the flows an ndpiReader output attributes to protocol
// name, as unordered endpoint pairs.
func ndpiFlows(t *testing.T, path, name string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	flows := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		// "\t1\tTCP a:p <-> b:p [VLAN: 1][proto: 222/MQTT][…"
		f := strings.Fields(line)
		i := strings.Index(line, "[proto: ")
		if len(f) < 5 || (f[1] != "TCP" && f[1] != "UDP") || i < 0 {
			continue
		}
		p := line[i+len("[proto: "):]
		if j := strings.IndexByte(p, ']'); j >= 0 {
			p = p[:j]
		}
		if _, names, ok := strings.Cut(p, "/"); ok && slices.Contains(strings.Split(names, "."), name) {
			flows[pairKey(f[2], f[4])] = true
		}
	}
	return flows
}

func pairKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + " " + b
}

// groundTruth is one activity window of the lab capture.
type groundTruth struct {
	Label            string           `json:"label"`
	Start            float64          `json:"start"`
	End              float64          `json:"end"`
	SrcIPs           []string         `json:"src_ips"`
	DstIPs           []string         `json:"dst_ips"`
	DstPorts         []uint16         `json:"dst_ports"`
	ExpectedFindings []map[string]any `json:"expected_findings"`
	Details          map[string]any   `json:"details"`
}

func readGroundTruth(t *testing.T, label string) groundTruth {
	t.Helper()
	f, err := os.Open(testenv.DataFile(t, "pcap/lab/medlab-dev.ground_truth.jsonl"))
	if err != nil {
		t.Fatalf("open ground truth: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var g groundTruth
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("parse ground truth: %v", err)
		}
		if g.Label == label {
			return g
		}
	}
	t.Fatalf("ground truth has no %s window (%v)", label, sc.Err())
	return groundTruth{}
}

func (g groundTruth) str(t *testing.T, key string) string {
	t.Helper()
	s, ok := g.Details[key].(string)
	if !ok {
		t.Fatalf("%s: details.%s is %T", g.Label, key, g.Details[key])
	}
	return s
}

func (g groundTruth) num(t *testing.T, key string) int {
	t.Helper()
	n, ok := g.Details[key].(float64)
	if !ok {
		t.Fatalf("%s: details.%s is %T", g.Label, key, g.Details[key])
	}
	return int(n)
}

// window returns the observations of the lab run that fall in g's window
// (flows that started in it: their summaries come at the flow's end).
func (g groundTruth) window(obs []*event.Observation) []*event.Observation {
	from := time.Unix(0, int64(g.Start*1e6)*1e3).Add(-time.Millisecond)
	to := time.Unix(0, int64(g.End*1e6)*1e3).Add(time.Millisecond)
	flows := map[string]bool{}
	for _, o := range obs {
		if !o.Time.Before(from) && !o.Time.After(to) {
			flows[o.Flow] = true
		}
	}
	var out []*event.Observation
	for _, o := range obs {
		if flows[o.Flow] {
			out = append(out, o)
		}
	}
	return out
}

func labRun(t *testing.T) []*event.Observation {
	t.Helper()
	r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{noPorts{New(nil)}}, testenv.DataFile(t, "pcap/lab/medlab-dev.pcap"))
	return r.Observations
}

// TestLabBenign checks the benign-mqtt window against its ground truth: a
// pump publishing telemetry (with a patient MRN in the payload) and a
// central station subscribed to it, on an anonymous broker.
func TestLabBenign(t *testing.T) {
	gt := readGroundTruth(t, "benign-mqtt")
	obs := gt.window(labRun(t))
	pumpID, subID := gt.str(t, "pump_client_id"), gt.str(t, "subscriber_client_id")
	topic, filter := gt.str(t, "topic"), gt.str(t, "subscription")
	count, qos := gt.num(t, "publish_count"), gt.num(t, "qos")

	sums := map[string]*Summary{}
	for _, o := range byKind(obs, KindSummary) {
		s := o.Detail.(*Summary)
		sums[s.ClientID] = s
		if !slices.Contains(gt.SrcIPs, o.Src.IP.String()) || !slices.Contains(gt.DstIPs, o.Dst.IP.String()) || !slices.Contains(gt.DstPorts, o.Dst.Port) {
			t.Errorf("flow %v -> %v not in the window's endpoints", o.Src, o.Dst)
		}
	}
	if len(sums) != 2 || sums[pumpID] == nil || sums[subID] == nil {
		t.Fatalf("client ids %v, want %s and %s", slices.Collect(mapKeys(sums)), pumpID, subID)
	}
	want := []TopicStats{{Topic: topic, Direction: "publish", Count: count}}
	if got := topicCounts(sums[pumpID]); !reflect.DeepEqual(got, want) || sums[pumpID].Publishes != count {
		t.Errorf("pump topics %+v, want %+v", got, want)
	}
	want[0].Direction = "deliver"
	if got := topicCounts(sums[subID]); !reflect.DeepEqual(got, want) || sums[subID].Deliveries != count {
		t.Errorf("subscriber topics %+v, want %+v", got, want)
	}
	var subs []string
	for _, o := range byKind(obs, KindSubscribe) {
		for _, f := range o.Detail.(*Subscribe).Filters {
			subs = append(subs, f.Topic)
		}
	}
	if !reflect.DeepEqual(subs, []string{filter}) {
		t.Errorf("subscriptions %v, want %s", subs, filter)
	}
	pubs := byKind(obs, KindPublish)
	if len(pubs) != 2 {
		t.Errorf("%d publish observations, want one per topic and direction", len(pubs))
	}
	phi := 0
	for _, o := range pubs {
		p := o.Detail.(*Publish)
		if p.QoS != qos {
			t.Errorf("publish qos %d, want %d", p.QoS, qos)
		}
		if hasWeakness(o, event.WeakCleartextPHI, event.AboutSrc) {
			phi++
		}
	}
	if phi != 2 {
		t.Errorf("cleartext-phi on %d of the publications (pump's and broker's), want 2", phi)
	}
	// An anonymous broker: each accepted CONNECT is an unauthenticated
	// access on it.
	unauth := 0
	for _, o := range byKind(obs, KindConnack) {
		if hasWeakness(o, event.WeakUnauthenticated, event.AboutSrc) && hasFact(o, event.AboutSrc, event.AttrServer, "mqtt") {
			unauth++
		}
	}
	if unauth != 2 {
		t.Errorf("unauthenticated-access on %d connacks, want 2", unauth)
	}
	var secrets []string
	for _, f := range gt.ExpectedFindings {
		if ids, ok := f["patient_ids"].([]any); ok {
			for _, id := range ids {
				secrets = append(secrets, fmt.Sprint(id))
			}
		}
	}
	if len(secrets) == 0 {
		t.Fatal("ground truth names no patient id")
	}
	noSecret(t, obs, secrets...)
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func topicCounts(s *Summary) []TopicStats {
	var out []TopicStats
	for _, ts := range s.Topics {
		out = append(out, TopicStats{Topic: ts.Topic, Direction: ts.Direction, Count: ts.Count})
	}
	return out
}

// TestLabFlood checks the attack-mqtt-flood window: many short connections,
// each publishing a burst to one topic, reported as one publish observation
// and one summary per connection.
func TestLabFlood(t *testing.T) {
	gt := readGroundTruth(t, "attack-mqtt-flood")
	obs := gt.window(labRun(t))
	conns, per := gt.num(t, "connections"), gt.num(t, "publish_per_connection")
	total, topic, qos := gt.num(t, "publish_total"), gt.str(t, "topic"), gt.num(t, "qos")
	ids := expandRange(t, gt.str(t, "client_ids"))

	var got []string
	sum := 0
	for _, o := range byKind(obs, KindSummary) {
		if !slices.Contains(gt.SrcIPs, o.Src.IP.String()) {
			continue
		}
		s := o.Detail.(*Summary)
		got = append(got, s.ClientID)
		sum += s.Publishes
		if tc := topicCounts(s); !reflect.DeepEqual(tc, []TopicStats{{Topic: topic, Direction: "publish", Count: per}}) {
			t.Errorf("%s: topics %+v, want %d on %s", s.ClientID, tc, per, topic)
		}
		if s.Topics[0].RatePerS <= 0 {
			t.Errorf("%s: rate %v", s.ClientID, s.Topics[0].RatePerS)
		}
	}
	slices.Sort(got)
	slices.Sort(ids)
	if !reflect.DeepEqual(got, ids) {
		t.Errorf("%d client ids %v…, want %d", len(got), got[:min(3, len(got))], len(ids))
	}
	if len(got) != conns || sum != total {
		t.Errorf("%d connections with %d publications, want %d with %d", len(got), sum, conns, total)
	}
	pubs := 0
	for _, o := range byKind(obs, KindPublish) {
		if slices.Contains(gt.SrcIPs, o.Src.IP.String()) {
			pubs++
			if p := o.Detail.(*Publish); p.QoS != qos || p.Topic != topic {
				t.Errorf("publish %+v", p)
			}
		}
	}
	if pubs != conns {
		t.Errorf("%d publish observations for %d publications, want one per connection (%d)", pubs, total, conns)
	}
}

// expandRange turns "flood-1..flood-132" into the 132 names.
func expandRange(t *testing.T, s string) []string {
	t.Helper()
	a, b, ok := strings.Cut(s, "..")
	i, j := strings.LastIndexByte(a, '-'), strings.LastIndexByte(b, '-')
	if !ok || i < 0 || j < 0 || a[:i] != b[:j] {
		t.Fatalf("cannot read client id range %q", s)
	}
	lo, err1 := strconv.Atoi(a[i+1:])
	hi, err2 := strconv.Atoi(b[j+1:])
	if err1 != nil || err2 != nil || hi < lo {
		t.Fatalf("cannot read client id range %q", s)
	}
	var out []string
	for n := lo; n <= hi; n++ {
		out = append(out, a[:i+1]+strconv.Itoa(n))
	}
	return out
}

// TestMosquittoV5 reads testdata/mosquitto-v5.pcap, recorded on loopback
// with mosquitto 2.0.11: mosquitto_sub (MQTT 5, subscription with a user
// property), three mosquitto_pub -V mqttv5 -u nurse -P s3cret-pw with
// content-type and user properties on each PUBLISH, and one 3.1.1
// publication. Invented patient ids PX1..PX3 travel in the payloads.
func TestMosquittoV5(t *testing.T) {
	dc := &fakeDefaults{user: "nurse", password: "s3cret-pw"}
	r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{noPorts{New(dc)}}, filepath.Join("testdata", "mosquitto-v5.pcap"))
	connects := byKind(r.Observations, KindConnect)
	levels := map[int]int{}
	creds := 0
	for _, o := range connects {
		c := o.Detail.(*Connect)
		levels[c.ProtocolLevel]++
		if c.Username == "nurse" && c.PasswordPresent && hasWeakness(o, event.WeakCleartextCredentials, event.AboutDst) {
			creds++
		}
	}
	if !reflect.DeepEqual(levels, map[int]int{5: 4, 4: 1}) || creds != 3 {
		t.Errorf("connect levels %v, %d with credentials", levels, creds)
	}
	defaults := 0
	for _, o := range byKind(r.Observations, KindConnack) {
		if hasWeakness(o, event.WeakDefaultCredentials, event.AboutSrc) {
			defaults++
		}
	}
	if defaults != 3 {
		t.Errorf("default-credentials on %d connacks, want 3", defaults)
	}
	var sub *Subscribe
	for _, o := range byKind(r.Observations, KindSubscribe) {
		sub = o.Detail.(*Subscribe)
	}
	if sub == nil || !reflect.DeepEqual(sub.Filters, []Filter{{"ward/+/vitals", 1}}) {
		t.Errorf("subscribe %+v", sub)
	}
	pubs, deliveries, phi := 0, 0, 0
	for _, o := range byKind(r.Observations, KindSummary) {
		s := o.Detail.(*Summary)
		pubs += s.Publishes
		deliveries += s.Deliveries
		if s.Malformed != 0 || s.Desyncs != 0 {
			t.Errorf("summary %+v", s)
		}
	}
	for _, o := range byKind(r.Observations, KindPublish) {
		p := o.Detail.(*Publish)
		if p.Topic == "ward/7/vitals" && reflect.DeepEqual(p.PHIKeys, []string{"patient_id"}) && p.PayloadLen == 28 {
			phi++
		}
	}
	if pubs != 4 || deliveries != 3 || phi != 4 {
		t.Errorf("%d publications, %d deliveries, %d with patient_id (want 4, 3, 4: each publisher once, the subscriber once)", pubs, deliveries, phi)
	}
	noSecret(t, r.Observations, "s3cret-pw", "PX1", "PX2", "PX3")
}

// TestLabOnlyOwnFlows expects mqtt to claim, in the whole lab capture, only
// flows to the ports of the ground truth's MQTT windows, and all of them:
// DICOM, HL7, TLS, Telnet, FTP, HTTP and the scans stay unclaimed.
func TestLabOnlyOwnFlows(t *testing.T) {
	path := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	ports := map[uint16]bool{}
	want := 0
	for _, label := range []string{"benign-mqtt", "attack-mqtt-flood"} {
		gt := readGroundTruth(t, label)
		for _, p := range gt.DstPorts {
			ports[p] = true
		}
		if n, ok := gt.Details["connections"].(float64); ok {
			want += int(n)
		} else {
			want += len(gt.SrcIPs) // one connection per client
		}
	}
	r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{noPorts{New(nil)}}, path)
	got := 0
	for _, f := range r.Flows {
		if f.Proto != "mqtt" {
			continue
		}
		got++
		if !ports[f.Server.Port] {
			t.Errorf("mqtt claimed %v -> %v", f.Client, f.Server)
		}
	}
	if got != want {
		t.Errorf("mqtt claimed %d flows, want %d", got, want)
	}
}
