package dicom

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// window is one activity window of the lab capture's ground truth.
type window struct {
	ID       string   `json:"id"`
	Label    string   `json:"label"`
	Protocol string   `json:"protocol"`
	Start    float64  `json:"start"`
	End      float64  `json:"end"`
	SrcIPs   []string `json:"src_ips"`
	DstIPs   []string `json:"dst_ips"`
	Tool     string   `json:"tool"`
	Expected []struct {
		Type         string   `json:"type"`
		PatientNames []string `json:"patient_names"`
		PatientIDs   []string `json:"patient_ids"`
		BirthDates   []string `json:"birth_dates"`
		Addresses    []string `json:"addresses"`
		Phones       []string `json:"phones"`
	} `json:"expected_findings"`
	Details struct {
		CallingAE       string   `json:"calling_ae"`
		CalledAE        string   `json:"called_ae"`
		Associations    int      `json:"associations"`
		CEcho           int      `json:"c_echo"`
		CStore          int      `json:"c_store"`
		SOPClass        string   `json:"sop_class"`
		ExpectedRejects int      `json:"expected_rejects"`
		ExpectedAccepts int      `json:"expected_accepts"`
		CalledAEsTried  []string `json:"called_aes_tried"`
		ValidCalledAE   string   `json:"valid_called_ae"`
		Studies         []struct {
			Accession string `json:"accession"`
		} `json:"studies"`
	} `json:"details"`
	Observed struct {
		CStoreSuccess  int `json:"c_store_success"`
		CEchoSuccess   int `json:"c_echo_success"`
		Accepted       int `json:"associations_accepted"`
		EchoOK         int `json:"echoscu_ok"`
		FindPending    int `json:"c_find_pending_responses"`
		SubOpsReceived int `json:"c_store_subops_received"`
	} `json:"observed"`
}

var lab struct {
	once    sync.Once
	res     *sensortest.Result
	windows []window
}

// labRun runs the lab capture through the sensor with only this dissector,
// once for all tests.
func labRun(t *testing.T) (*sensortest.Result, []window) {
	t.Helper()
	pcap := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	gt := testenv.DataFile(t, "pcap/lab/medlab-dev.ground_truth.jsonl")
	lab.once.Do(func() {
		f, err := os.Open(gt)
		if err != nil {
			t.Fatalf("open ground truth: %v", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var w window
			if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
				t.Fatalf("ground truth line: %v", err)
			}
			lab.windows = append(lab.windows, w)
		}
		lab.res = sensortest.Run(t, sensor.Config{}, []proto.Dissector{New()}, pcap)
	})
	if lab.res == nil {
		t.Fatal("lab run failed earlier")
	}
	return lab.res, lab.windows
}

func findWindow(t *testing.T, ws []window, label string) window {
	t.Helper()
	for _, w := range ws {
		if w.Label == label {
			return w
		}
	}
	t.Fatalf("ground truth has no %s window", label)
	return window{}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// in returns the DICOM observations of window w: in its time span, between
// its sources and destinations.
func (w window) in(res *sensortest.Result) []*event.Observation {
	var out []*event.Observation
	for _, o := range res.Observations {
		if o.Proto != Name {
			continue
		}
		ts := float64(o.Time.UnixMicro()) / 1e6
		if ts < w.Start-0.5 || ts > w.End+2 {
			continue
		}
		s, d := o.Src.IP.String(), o.Dst.IP.String()
		if (contains(w.SrcIPs, s) && contains(w.DstIPs, d)) || (contains(w.SrcIPs, d) && contains(w.DstIPs, s)) {
			out = append(out, o)
		}
	}
	return out
}

func count(obs []*event.Observation, kind string, pred func(*event.Observation) bool) int {
	n := 0
	for _, o := range obs {
		if o.Kind == kind && (pred == nil || pred(o)) {
			n++
		}
	}
	return n
}

func statusIs(class string) func(*event.Observation) bool {
	return func(o *event.Observation) bool { return o.Detail.(*Message).StatusClass == class }
}

// factsAbout collects "attr value" of the facts about ip.
func factsAbout(obs []*event.Observation, ip string) map[string]bool {
	m := map[string]bool{}
	for _, o := range obs {
		for _, f := range o.Facts {
			e := o.Src
			if f.About == event.AboutDst {
				e = o.Dst
			}
			if e.IP.String() == ip {
				m[string(f.Attr)+" "+f.Value] = true
			}
		}
	}
	return m
}

// phiKeywords maps the ground truth's expected PHI lists to attributes.
func (w window) phiKeywords() []string {
	var k []string
	for _, e := range w.Expected {
		if e.Type != "cleartext-phi" {
			continue
		}
		if len(e.PatientNames) > 0 {
			k = append(k, "PatientName")
		}
		if len(e.PatientIDs) > 0 {
			k = append(k, "PatientID")
		}
		if len(e.BirthDates) > 0 {
			k = append(k, "PatientBirthDate")
		}
	}
	return k
}

// phiValues lists every patient value the ground truth says travelled.
func phiValues(ws []window) []string {
	var v []string
	for _, w := range ws {
		for _, e := range w.Expected {
			v = append(v, e.PatientNames...)
			v = append(v, e.PatientIDs...)
			v = append(v, e.BirthDates...)
			v = append(v, e.Addresses...)
			v = append(v, e.Phones...)
		}
		for _, s := range w.Details.Studies {
			v = append(v, s.Accession)
		}
	}
	return v
}

func checkPHI(t *testing.T, o *event.Observation, want []string) {
	t.Helper()
	m := o.Detail.(*Message)
	have := map[string]bool{}
	for _, a := range m.PatientAttributes {
		have[a.Keyword] = true
	}
	for _, k := range want {
		if !have[k] {
			t.Errorf("frame %d %s: %s not flagged (found %v)", o.Frame, o.Kind, k, m.PatientAttributes)
		}
	}
	if len(o.Weaknesses) != 1 || o.Weaknesses[0].Kind != event.WeakCleartextPHI || o.Weaknesses[0].About != event.AboutSrc {
		t.Errorf("frame %d %s: weaknesses %+v", o.Frame, o.Kind, o.Weaknesses)
	}
}

func TestLabBenign(t *testing.T) {
	res, ws := labRun(t)
	w := findWindow(t, ws, "benign-dicom")
	obs := w.in(res)
	d := w.Details
	if n := count(obs, "associate-rq", nil); n != d.Associations {
		t.Errorf("associations %d, ground truth %d", n, d.Associations)
	}
	if n := count(obs, "associate-ac", nil); n != w.Observed.Accepted {
		t.Errorf("accepted %d, ground truth %d", n, w.Observed.Accepted)
	}
	for _, o := range obs {
		if o.Kind == "associate-rq" {
			a := o.Detail.(*Association)
			if a.CallingAE != d.CallingAE || a.CalledAE != d.CalledAE {
				t.Errorf("frame %d: calling %q called %q, ground truth %q %q", o.Frame, a.CallingAE, a.CalledAE, d.CallingAE, d.CalledAE)
			}
		}
	}
	if n := count(obs, "c-echo-rq", nil); n != d.CEcho {
		t.Errorf("c-echo-rq %d, ground truth %d", n, d.CEcho)
	}
	if n := count(obs, "c-echo-rsp", statusIs("success")); n != w.Observed.CEchoSuccess {
		t.Errorf("successful c-echo-rsp %d, ground truth %d", n, w.Observed.CEchoSuccess)
	}
	if n := count(obs, "c-store-rq", nil); n != d.CStore {
		t.Errorf("c-store-rq %d, ground truth %d", n, d.CStore)
	}
	if n := count(obs, "c-store-rsp", statusIs("success")); n != w.Observed.CStoreSuccess {
		t.Errorf("successful c-store-rsp %d, ground truth %d", n, w.Observed.CStoreSuccess)
	}
	// "1.2.840.10008.5.1.4.1.1.2 (CT Image Storage)"
	sopUID, sopName, _ := strings.Cut(d.SOPClass, " (")
	sopName = strings.TrimSuffix(sopName, ")")
	want := w.phiKeywords()
	if len(want) == 0 {
		t.Fatal("ground truth expects no cleartext PHI in the benign DICOM window")
	}
	for _, o := range obs {
		if o.Kind != "c-store-rq" {
			continue
		}
		m := o.Detail.(*Message)
		if m.SOPClass != sopUID || m.SOPClassName != sopName {
			t.Errorf("frame %d: SOP class %s (%s), ground truth %s", o.Frame, m.SOPClass, m.SOPClassName, d.SOPClass)
		}
		checkPHI(t, o, want)
	}
	client, server := factsAbout(obs, w.SrcIPs[0]), factsAbout(obs, w.DstIPs[0])
	for _, k := range []string{"client dicom", "client dicom:c-store", "client dicom:c-echo", "dicom-ae " + d.CallingAE} {
		if !client[k] {
			t.Errorf("modality lacks fact %q: %v", k, client)
		}
	}
	for _, k := range []string{"server dicom", "server dicom:c-store", "server dicom:c-echo", "dicom-ae " + d.CalledAE} {
		if !server[k] {
			t.Errorf("PACS lacks fact %q: %v", k, server)
		}
	}
	// The implementation version names the tool's version ("3.6.7").
	ver := ""
	for _, f := range strings.Fields(w.Tool) {
		if strings.Count(f, ".") == 2 {
			ver = strings.ReplaceAll(f, ".", "")
		}
	}
	for side, facts := range map[string]map[string]bool{"modality": client, "PACS": server} {
		ok := false
		for k := range facts {
			if strings.HasPrefix(k, "software ") && strings.Contains(strings.ToUpper(k), "DCMTK") && strings.HasSuffix(k, ver) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: no software fact naming dcmtk %s: %v", side, ver, facts)
		}
	}
	for _, k := range []string{"server dicom", "server dicom:c-store"} {
		if client[k] {
			t.Errorf("modality wrongly reported as %q", k)
		}
	}
}

func TestLabStorm(t *testing.T) {
	res, ws := labRun(t)
	w := findWindow(t, ws, "attack-dicom-assoc-storm")
	obs := w.in(res)
	d := w.Details
	if n := count(obs, "associate-rq", nil); n != d.Associations {
		t.Errorf("associations %d, ground truth %d", n, d.Associations)
	}
	if n := count(obs, "associate-rj", nil); n != d.ExpectedRejects {
		t.Errorf("rejected %d, ground truth %d", n, d.ExpectedRejects)
	}
	if n := count(obs, "associate-ac", nil); n != d.ExpectedAccepts {
		t.Errorf("accepted %d, ground truth %d", n, d.ExpectedAccepts)
	}
	if n := count(obs, "c-echo-rsp", statusIs("success")); n != w.Observed.EchoOK {
		t.Errorf("successful echoes %d, ground truth %d", n, w.Observed.EchoOK)
	}
	sums := 0
	for _, o := range obs {
		if o.Kind == "associate-rj" {
			if r := o.Detail.(*Reject); r.ReasonText == "unknown" || r.CalledAE == "" {
				t.Errorf("frame %d: reject %+v", o.Frame, r)
			}
		}
		if o.Kind == "association-summary" {
			s := o.Detail.(*Summary)
			sums += s.Rejected
		}
	}
	if sums != d.ExpectedRejects {
		t.Errorf("summaries count %d rejections, ground truth %d", sums, d.ExpectedRejects)
	}
}

func TestLabScan(t *testing.T) {
	res, ws := labRun(t)
	w := findWindow(t, ws, "attack-dicom-scan")
	obs := w.in(res)
	tried, accepted := map[string]bool{}, map[string]bool{}
	for _, o := range obs {
		switch o.Kind {
		case "associate-rq":
			tried[o.Detail.(*Association).CalledAE] = true
		case "associate-ac":
			accepted[o.Detail.(*Association).CalledAE] = true
		}
	}
	for _, ae := range w.Details.CalledAEsTried {
		if !tried[ae] {
			t.Errorf("called AE %q tried by the scanner not seen", ae)
		}
	}
	if len(tried) != len(uniq(w.Details.CalledAEsTried)) {
		t.Errorf("called AEs seen %v, ground truth %v", tried, w.Details.CalledAEsTried)
	}
	if len(accepted) != 1 || !accepted[w.Details.ValidCalledAE] {
		t.Errorf("accepted called AEs %v, ground truth %q", accepted, w.Details.ValidCalledAE)
	}
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

func TestLabExfil(t *testing.T) {
	res, ws := labRun(t)
	w := findWindow(t, ws, "attack-dicom-exfil")
	obs := w.in(res)
	if count(obs, "c-find-rq", nil) == 0 || count(obs, "c-get-rq", nil) == 0 {
		t.Fatalf("no C-FIND or C-GET in the exfiltration window: %v", kindsOf(obs))
	}
	for _, o := range obs {
		if o.Kind == "associate-rq" && o.Detail.(*Association).CallingAE != w.Details.CallingAE {
			t.Errorf("calling AE %q, ground truth %q", o.Detail.(*Association).CallingAE, w.Details.CallingAE)
		}
	}
	want := w.phiKeywords()
	pending := 0
	for _, o := range obs {
		if o.Kind == "c-find-rsp" && o.Detail.(*Message).StatusClass == "pending" {
			pending++
			checkPHI(t, o, want)
			if !contains(w.DstIPs, o.Src.IP.String()) {
				t.Errorf("C-FIND match sent by %v, not the archive", o.Src)
			}
		}
	}
	if pending != w.Observed.FindPending {
		t.Errorf("pending C-FIND responses %d, ground truth %d", pending, w.Observed.FindPending)
	}
	subops := 0
	for _, o := range obs {
		if o.Kind == "c-store-rq" && o.Detail.(*Message).SubOperation {
			subops++
			checkPHI(t, o, []string{"PatientName", "PatientID"})
		}
	}
	if subops != w.Observed.SubOpsReceived {
		t.Errorf("C-GET sub-operation stores %d, ground truth %d", subops, w.Observed.SubOpsReceived)
	}
	attacker := factsAbout(obs, w.SrcIPs[0])
	for _, k := range []string{"client dicom", "client dicom:c-find", "client dicom:c-get"} {
		if !attacker[k] {
			t.Errorf("retrieving client lacks fact %q: %v", k, attacker)
		}
	}
	for k := range attacker {
		if strings.HasPrefix(k, "server ") {
			t.Errorf("retrieving client reported as a server: %q", k)
		}
	}
	archive := factsAbout(obs, w.DstIPs[0])
	for _, k := range []string{"server dicom:c-find", "server dicom:c-get"} {
		if !archive[k] {
			t.Errorf("archive lacks fact %q: %v", k, archive)
		}
	}
}

// TestLabNoPHIValues: no patient value of the capture appears in any
// observation.
func TestLabNoPHIValues(t *testing.T) {
	res, ws := labRun(t)
	b, err := json.Marshal(res.Observations)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	vals := phiValues(ws)
	if len(vals) == 0 {
		t.Fatal("ground truth lists no patient values")
	}
	for _, v := range vals {
		if v != "" && strings.Contains(js, v) {
			t.Errorf("observations contain patient value %q", v)
		}
	}
}

func kindsOf(obs []*event.Observation) map[string]int {
	m := map[string]int{}
	for _, o := range obs {
		m[o.Kind]++
	}
	return m
}

// TestLabFactsOnce: each fact is reported once per flow and endpoint, and
// every flow claimed as DICOM carried an association.
func TestLabFactsOnce(t *testing.T) {
	res, _ := labRun(t)
	seen := map[string]bool{}
	assoc := map[string]bool{}
	for _, o := range res.Observations {
		if o.Kind == "associate-rq" {
			assoc[o.Flow] = true
		}
		for _, f := range o.Facts {
			e := o.Src
			if f.About == event.AboutDst {
				e = o.Dst
			}
			k := o.Flow + " " + e.IP.String() + " " + string(f.Attr) + " " + f.Value
			if seen[k] {
				t.Errorf("fact repeated in flow: %s", k)
			}
			seen[k] = true
		}
	}
	for _, f := range res.Flows {
		if f.Proto == Name && !assoc[f.ID] {
			t.Errorf("flow %s %v -> %v claimed as DICOM without an association", f.ID, f.Client, f.Server)
		}
	}
}
