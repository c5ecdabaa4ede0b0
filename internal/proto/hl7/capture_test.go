package hl7

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// TestNDPICapture checks the ADT^A01 message of nDPI's hl7.pcap, sent to
// port 6661 and found by content. Expected values were read with
// `tshark -r hl7.pcap -d tcp.port==6661,hl7 -V`.
func TestNDPICapture(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/hl7.pcap")
	// Without ports, recognition must come from the content alone.
	r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{noPorts{New()}}, path)
	msgs := byKind(r.Observations, KindMessage)
	acks := byKind(r.Observations, KindAck)
	if len(msgs) != 1 || len(acks) != 1 {
		t.Fatalf("observations: %v", r.Kinds())
	}
	m := msgs[0]
	d := m.Detail.(*Detail)
	if m.Src.IP != netip.MustParseAddr("10.0.0.155") || m.Dst.Port != 6661 {
		t.Errorf("message %v -> %v", m.Src, m.Dst)
	}
	got := []string{d.FieldSeparator, d.EncodingCharacters, d.SendingApplication, d.SendingFacility,
		d.ReceivingApplication, d.ReceivingFacility, d.MessageType, d.ControlID, d.ProcessingID, d.Version}
	want := []string{"|", "^~\\&", "SENDING_APPLICATION", "SENDING_FACILITY", "RECEIVING_APPLICATION",
		"RECEIVING_FACILITY", "ADT^A01", "934576120110613083617", "P", "2.3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MSH fields\n got %q\nwant %q", got, want)
	}
	wantSegs := []SegmentCount{{"MSH", 1}, {"EVN", 1}, {"PID", 1}, {"NK1", 1}, {"PV1", 1}, {"AL1", 2}}
	if !reflect.DeepEqual(d.Segments, wantSegs) {
		t.Errorf("segments %+v", d.Segments)
	}
	// PV1 there holds only the patient class: no location, no visit.
	if !reflect.DeepEqual(d.PHISegments, []string{"PID", "NK1", "AL1"}) {
		t.Errorf("phi segments %v", d.PHISegments)
	}
	if len(m.Weaknesses) != 1 || m.Weaknesses[0].Kind != event.WeakCleartextPHI || m.Weaknesses[0].Detail != "PID, NK1, AL1 segments in ADT^A01" {
		t.Errorf("weaknesses %+v", m.Weaknesses)
	}
	if !hasFact(m, event.AboutSrc, event.AttrHL7App, "SENDING_APPLICATION^SENDING_FACILITY") ||
		!hasFact(m, event.AboutSrc, event.AttrClient, "hl7:ADT") {
		t.Errorf("facts %+v", m.Facts)
	}
	a := acks[0].Detail.(*Detail)
	if a.AckCode != "AA" || a.AckControlID != "934576120110613083617" || a.AckedType != "ADT^A01" {
		t.Errorf("ack %+v", a)
	}
	if !hasFact(acks[0], event.AboutSrc, event.AttrServer, "hl7") {
		t.Errorf("ack facts %+v", acks[0].Facts)
	}
	noPatientData(t, &recorder{obs: r.Observations}, "MOUSE", "135769", "19281118", "Main St", "Penicillin")
}

// noPorts hides a dissector's ports so that only its probe can claim a
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

func hasFact(o *event.Observation, about event.About, attr event.Attr, value string) bool {
	for _, f := range o.Facts {
		if f.About == about && f.Attr == attr && f.Value == value {
			return true
		}
	}
	return false
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
	Details          struct {
		Connections  int            `json:"connections"`
		Messages     int            `json:"messages"`
		MessageTypes map[string]int `json:"message_types"`
		AckCode      string         `json:"ack_code"`
		ControlIDs   []string       `json:"control_ids"`
		Sending      string         `json:"sending"`
		Receiving    string         `json:"receiving"`
	} `json:"details"`
}

func readGroundTruth(t *testing.T, path, label string) groundTruth {
	t.Helper()
	f, err := os.Open(path)
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
	if err := sc.Err(); err != nil {
		t.Fatalf("read ground truth: %v", err)
	}
	t.Fatalf("ground truth has no %s window", label)
	return groundTruth{}
}

func epoch(s float64) time.Time {
	return time.Unix(0, int64(s*1e6)*1e3).UTC()
}

// TestLabCapture checks the benign-hl7 window of the hospital-lab capture
// against its ground truth.
func TestLabCapture(t *testing.T) {
	path := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	gt := readGroundTruth(t, testenv.DataFile(t, "pcap/lab/medlab-dev.ground_truth.jsonl"), "benign-hl7")
	r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{noPorts{New()}}, path)
	from, to := epoch(gt.Start).Add(-time.Millisecond), epoch(gt.End).Add(time.Millisecond)
	in := func(o *event.Observation) bool {
		return !o.Time.Before(from) && !o.Time.After(to)
	}
	types := map[string]int{}
	var ctrl []string
	flows := map[string]bool{}
	acked := map[string]string{}
	serverFact := map[string]bool{}
	for _, o := range r.Observations {
		if !in(o) || o.Proto != "hl7" {
			continue
		}
		d := o.Detail.(*Detail)
		switch o.Kind {
		case KindMessage:
			if !slices.Contains(gt.SrcIPs, o.Src.IP.String()) || !slices.Contains(gt.DstIPs, o.Dst.IP.String()) ||
				!slices.Contains(gt.DstPorts, o.Dst.Port) {
				t.Errorf("message %v -> %v not in the window's endpoints", o.Src, o.Dst)
			}
			types[d.MessageType]++
			ctrl = append(ctrl, d.ControlID)
			flows[o.Flow] = true
			if got := appValue(d.SendingApplication, d.SendingFacility); got != gt.Details.Sending {
				t.Errorf("sending %q, want %q", got, gt.Details.Sending)
			}
			if got := appValue(d.ReceivingApplication, d.ReceivingFacility); got != gt.Details.Receiving {
				t.Errorf("receiving %q, want %q", got, gt.Details.Receiving)
			}
			if len(d.PHISegments) == 0 || len(o.Weaknesses) > 1 {
				t.Errorf("message %s: phi %v, weaknesses %+v", d.ControlID, d.PHISegments, o.Weaknesses)
			}
		case KindAck:
			acked[d.AckControlID] = d.AckCode
			if hasFact(o, event.AboutSrc, event.AttrServer, "hl7") {
				serverFact[o.Flow] = true
			}
		}
	}
	if !reflect.DeepEqual(types, gt.Details.MessageTypes) {
		t.Errorf("message types %v, want %v", types, gt.Details.MessageTypes)
	}
	slices.Sort(ctrl)
	want := slices.Clone(gt.Details.ControlIDs)
	slices.Sort(want)
	if !reflect.DeepEqual(ctrl, want) {
		t.Errorf("control ids %v, want %v", ctrl, want)
	}
	if !reflect.DeepEqual(serverFact, flows) {
		t.Errorf("listener marked as hl7 server in %d of %d flows", len(serverFact), len(flows))
	}
	if len(flows) != gt.Details.Connections {
		t.Errorf("%d connections, want %d", len(flows), gt.Details.Connections)
	}
	for _, id := range want {
		if acked[id] != gt.Details.AckCode {
			t.Errorf("control id %s acknowledged with %q, want %q", id, acked[id], gt.Details.AckCode)
		}
	}
	// The window's patients must not leak into any observation.
	var secrets []string
	for _, f := range gt.ExpectedFindings {
		for _, k := range []string{"patient_names", "patient_ids", "birth_dates", "addresses", "phones"} {
			if vs, ok := f[k].([]any); ok {
				for _, v := range vs {
					if s, ok := v.(string); ok {
						secrets = append(secrets, s)
					}
				}
			}
		}
	}
	if len(secrets) == 0 {
		t.Fatal("ground truth lists no patient data to look for")
	}
	noPatientData(t, &recorder{obs: r.Observations}, secrets...)
}

// TestNDPIVerdicts runs every nDPI capture and expects hl7 to claim exactly
// the flows nDPI calls HL7: none elsewhere.
func TestNDPIVerdicts(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "pcap", "ndpi")
	total := 0
	defer func() {
		if total == 0 {
			t.Error("nDPI reports no HL7 flow at all: the outputs were not understood")
		}
	}()
	for _, out := range ndpiOutputs(t, dir) {
		pcap := strings.TrimSuffix(out, ".out")
		t.Run(filepath.Base(pcap), func(t *testing.T) {
			want := ndpiFlows(t, out, "HL7")
			total += len(want)
			r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{noPorts{New()}}, pcap)
			got := map[string]bool{}
			for _, f := range r.Flows {
				if f.Proto == "hl7" {
					got[pairKey(netip.AddrPortFrom(f.Client.IP, f.Client.Port).String(),
						netip.AddrPortFrom(f.Server.IP, f.Server.Port).String())] = true
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("hl7 flows %v, nDPI says %v", got, want)
			}
		})
	}
}

func ndpiOutputs(t *testing.T, dir string) []string {
	t.Helper()
	outs, err := filepath.Glob(filepath.Join(dir, "*.out"))
	if err != nil || len(outs) == 0 {
		t.Fatalf("no nDPI outputs in %s: %v", dir, err)
	}
	return outs
}

// ndpiFlows reads the flows an ndpiReader output file attributes to
// protocol name, as unordered endpoint pairs.
func ndpiFlows(t *testing.T, path, name string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	flows := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		// "\t1\tTCP a:p <-> b:p [VLAN: 1][proto: 380/HL7][…"
		f := strings.Fields(line)
		i := strings.Index(line, "[proto: ")
		if len(f) < 5 || (f[1] != "TCP" && f[1] != "UDP") || i < 0 {
			continue
		}
		p := line[i+len("[proto: "):]
		if j := strings.IndexByte(p, ']'); j >= 0 {
			p = p[:j]
		}
		// "380/HL7", or "7.222/HTTP.MQTT" for a protocol over another.
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

// TestLabOnlyOwnFlows expects hl7 to claim, in the whole lab capture,
// exactly the benign-hl7 window's connections: DICOM, MQTT, TLS, Telnet,
// FTP, HTTP and the scans stay unclaimed.
func TestLabOnlyOwnFlows(t *testing.T) {
	path := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	gt := readGroundTruth(t, testenv.DataFile(t, "pcap/lab/medlab-dev.ground_truth.jsonl"), "benign-hl7")
	r := sensortest.Run(t, sensor.Config{}, []proto.Dissector{noPorts{New()}}, path)
	got := 0
	for _, f := range r.Flows {
		if f.Proto != "hl7" {
			continue
		}
		got++
		if !slices.Contains(gt.DstPorts, f.Server.Port) || !slices.Contains(gt.SrcIPs, f.Client.IP.String()) {
			t.Errorf("hl7 claimed %v -> %v", f.Client, f.Server)
		}
	}
	if got != gt.Details.Connections {
		t.Errorf("hl7 claimed %d flows, want %d", got, gt.Details.Connections)
	}
}
