package asset

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"net/netip"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/credential"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/oui"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/proto/ftp"
	"github.com/heir-emd/heir/internal/proto/http"
	"github.com/heir-emd/heir/internal/proto/mqtt"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/proto/telnet"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/testenv"
)

// dissectors are every dissector in the repository: the registered ones,
// and those landed but not registered yet. Roles come from their facts.
func dissectors() []proto.Dissector {
	defaults := credential.Defaults()
	ds := registry.All(registry.Options{Defaults: defaults})
	for _, d := range []proto.Dissector{telnet.New(defaults), ftp.New(defaults), mqtt.New(defaults), httpproto.New(defaults)} {
		if !slices.ContainsFunc(ds, func(x proto.Dissector) bool { return x.Name() == d.Name() }) {
			ds = append(ds, d)
		}
	}
	return ds
}

// runCapture feeds a capture through the real sensor straight into an
// inventory (the inventory is the sensor's output, as in heir sense).
func runCapture(t testing.TB, inv *Inventory, paths ...string) sensor.Stats {
	t.Helper()
	return runCaptureTo(t, inv, paths...)
}

func runCaptureTo(t testing.TB, out sensor.Output, paths ...string) sensor.Stats {
	t.Helper()
	src, err := capture.OpenFiles(paths)
	if err != nil {
		t.Fatalf("open %v: %v", paths, err)
	}
	defer src.Close()
	s := sensor.New(sensor.Config{}, dissectors(), out)
	if err := s.Run(context.Background(), src); err != nil {
		t.Fatalf("run %v: %v", paths, err)
	}
	return s.Stats()
}

func newTestInventory(t testing.TB) *Inventory {
	t.Helper()
	reg, err := oui.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := New(Config{Vendors: reg})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// groundRoles maps the lab's ground-truth roles to the inventory's role
// vocabulary: the roles the inventory may give each device.
var groundRoles = map[string][]string{
	"pacs":            {"pacs"},
	"ct-modality":     {"modality"},
	"hl7-engine":      {"hl7-engine"},
	"his":             {"hl7-sender"},
	"infusion-pump":   {"infusion-pump"},
	"mqtt-broker":     {"mqtt-broker"},
	"central-station": {"monitoring-station"},
	"patient-monitor": {"patient-monitor"},
	"legacy-gateway":  {"web-server", "it-server"},
	"workstation":     {"workstation"},
	"biomed-laptop":   {"workstation"},
	"attacker":        {"workstation", "scanner"},
}

// roleNeeds names, per ground-truth role, the facts its inference rests
// on: the role is checked once some dissector emits one of them (any
// value when the value is empty; "protocol" means an observation of that
// protocol), and reported as pending before.
var roleNeeds = map[string][]seenFact{
	"infusion-pump":   {{event.AttrMQTTTopic, ""}},
	"mqtt-broker":     {{event.AttrServer, "mqtt"}},
	"central-station": {{event.AttrClient, "mqtt:subscribe"}},
	"patient-monitor": {{event.AttrBanner, ""}, {event.AttrModel, ""}},
	"workstation":     {{"protocol", "tls"}},
	"biomed-laptop":   {{"protocol", "telnet"}, {"protocol", "ftp"}, {"protocol", "http"}},
}

type seenFact struct {
	attr  event.Attr
	value string
}

// factRecorder passes the sensor's output on and notes which facts
// dissectors emitted.
type factRecorder struct {
	*Inventory
	seen map[seenFact]bool
}

func (r *factRecorder) Observe(o *event.Observation) {
	r.seen[seenFact{"protocol", o.Proto}] = true
	for _, f := range o.Facts {
		r.seen[seenFact{f.Attr, ""}] = true
		r.seen[seenFact{f.Attr, f.Value}] = true
	}
	r.Inventory.Observe(o)
}

type groundAsset struct {
	IP       string `json:"ip"`
	MAC      string `json:"mac"`
	Role     string `json:"role"`
	Hostname string `json:"hostname"`
}

func TestLabCapture(t *testing.T) {
	pcap := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(pcap), "medlab-dev.assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth []groundAsset
	if err := json.Unmarshal(raw, &truth); err != nil {
		t.Fatal(err)
	}
	inv := newTestInventory(t)
	rec := &factRecorder{Inventory: inv, seen: map[seenFact]bool{}}
	runCaptureTo(t, rec, pcap)
	assets := inv.Assets()
	if testing.Verbose() {
		for _, a := range assets {
			b, _ := json.Marshal(a)
			t.Logf("%s", b)
		}
	}
	byMAC := map[string]event.Asset{}
	for _, a := range assets {
		byMAC[a.MAC] = a
	}
	wrongRoles := 0
	for _, g := range truth {
		a, ok := byMAC[g.MAC]
		if !ok {
			t.Errorf("%s (%s, %s): no asset with that MAC", g.Hostname, g.IP, g.MAC)
			continue
		}
		if !slices.ContainsFunc(a.IPs, func(ip netip.Addr) bool { return ip.String() == g.IP }) {
			t.Errorf("%s: IPs %v, want %s", g.Hostname, a.IPs, g.IP)
		}
		if len(a.IPs) != 1 {
			t.Errorf("%s: %d IPs %v, want one", g.Hostname, len(a.IPs), a.IPs)
		}
		if a.ID != mid(g.MAC) {
			t.Errorf("%s: id %q", g.Hostname, a.ID)
		}
		if a.Vendor != "" {
			t.Errorf("%s: vendor %q for a locally administered MAC", g.Hostname, a.Vendor)
		}
		if !slices.Contains(groundRoles[g.Role], a.Role) {
			if need := roleNeeds[g.Role]; len(need) > 0 && !slices.ContainsFunc(need, func(n seenFact) bool { return rec.seen[n] }) {
				t.Logf("%s (%s): role %q; pending: no dissector emits any of %v", g.Hostname, g.Role, a.Role, need)
				continue
			}
			wrongRoles++
			t.Errorf("%s (%s): role %q, want one of %v", g.Hostname, g.Role, a.Role, groundRoles[g.Role])
		}
	}
	// Every other asset must be a real device of the lab: nothing invented.
	for _, a := range assets {
		if !slices.ContainsFunc(truth, func(g groundAsset) bool { return g.MAC == a.MAC }) {
			t.Errorf("unexpected asset %s %v role %q", a.ID, a.IPs, a.Role)
		}
	}
	// Services are the ports that answered a SYN with SYN+ACK:
	// tshark -r medlab-dev.pcap -Y 'tcp.flags.syn==1 && tcp.flags.ack==1' -T fields -e ip.src -e tcp.srcport | sort -u
	// but for 30006 and 30008, vsftpd's passive data ports: the FTP control
	// connection announced them (EPSV), so they are ftp-data, not services.
	wantServices := map[string][]uint16{
		"02:4d:4c:00:00:0a": {443, 4242}, "02:4d:4c:00:00:1e": {2575}, "02:4d:4c:00:00:29": {1883},
		"02:4d:4c:00:00:32": {21, 23, 80}, "02:4d:4c:00:00:3c": {443},
	}
	for _, a := range assets {
		var got []uint16
		for _, s := range a.Services {
			if s.Transport != "tcp" {
				t.Errorf("%s: service %+v", a.ID, s)
			}
			got = append(got, s.Port)
		}
		if !slices.Equal(got, wantServices[a.MAC]) {
			t.Errorf("%s: services %v, want %v", a.ID, got, wantServices[a.MAC])
		}
	}
	// Implementation versions (tshark -d tcp.port==4242,dicom -e dicom.userinfo.version).
	pacs := byMAC["02:4d:4c:00:00:0a"]
	if i := slices.IndexFunc(pacs.Services, func(s event.Service) bool { return s.Port == 4242 }); i < 0 ||
		pacs.Services[i].Proto != "dicom" || pacs.Services[i].Software != "OFFIS_DCMTK_367" {
		t.Errorf("PACS services %+v", pacs.Services)
	}
	if sw := byMAC["02:4d:4c:00:00:42"].Software; !slices.Equal(sw, []string{"OFFIS_DCMTK_362", "OFFIS_DCMTK_367"}) {
		t.Errorf("attacker software %v", sw)
	}
	// Cleartext PHI lands on the devices that sent it.
	for _, mac := range []string{"02:4d:4c:00:00:14", "02:4d:4c:00:00:1f"} {
		if !slices.ContainsFunc(byMAC[mac].Weaknesses, func(w event.AssetWeakness) bool { return w.Kind == event.WeakCleartextPHI && w.Count > 0 }) {
			t.Errorf("%s: no cleartext-phi weakness: %+v", mac, byMAC[mac].Weaknesses)
		}
	}
	if st := inv.Stats(); st.Routers != 0 || st.Moves != 0 || st.Evicted != 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("%d assets, %d roles off; %s", len(assets), wrongRoles, inv.Stats())
}

// TestConcurrentChanges reads changes while the sensor feeds the
// inventory, as heir sense does; run with -race. Every device is reported
// by some call, and the last reports match Assets.
func TestConcurrentChanges(t *testing.T) {
	pcap := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	inv := newTestInventory(t)
	done := make(chan struct{})
	reported := map[string]event.Asset{}
	go func() {
		defer close(done)
		runCapture(t, inv, pcap)
	}()
	collect := func() {
		for _, a := range inv.Changed() {
			reported[a.ID] = a
		}
		for _, id := range inv.Removed() {
			delete(reported, id)
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			collect()
		}
	}
	collect()
	all := inv.Assets()
	if len(reported) != len(all) {
		t.Fatalf("changes reported %d devices, Assets has %d", len(reported), len(all))
	}
	for _, a := range all {
		r, ok := reported[a.ID]
		if !ok || r.Role != a.Role || !slices.Equal(r.IPs, a.IPs) || len(r.Services) != len(a.Services) || r.Peers != a.Peers ||
			len(r.Evidence) != len(a.Evidence) || r.Hostname != a.Hostname {
			t.Errorf("%s: last change %+v differs from Assets", a.ID, r)
		}
	}
}

// TestLabTopPeers: the PACS's busiest peers include the CT modality that
// stores its images to it over DICOM (ground truth b01: 10.77.0.20 →
// 10.77.0.10:4242, 13 C-STOREs in 5 associations), named by its asset id;
// the list is bounded and ordered by bytes.
func TestLabTopPeers(t *testing.T) {
	pcap := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	inv := newTestInventory(t)
	runCapture(t, inv, pcap)
	var pacs *event.Asset
	assets := inv.Assets()
	for i := range assets {
		if slices.Contains(assets[i].IPs, netip.MustParseAddr("10.77.0.10")) {
			pacs = &assets[i]
		}
	}
	if pacs == nil {
		t.Fatal("no PACS in the inventory")
	}
	if len(pacs.TopPeers) == 0 || len(pacs.TopPeers) > DefaultConfig.MaxTopPeers || len(pacs.TopPeers) > pacs.Peers {
		t.Fatalf("PACS top peers: %d of %d peers", len(pacs.TopPeers), pacs.Peers)
	}
	var modality *event.Peer
	for i, p := range pacs.TopPeers {
		if i > 0 && p.Bytes > pacs.TopPeers[i-1].Bytes {
			t.Errorf("top peers not ordered by bytes: %v", pacs.TopPeers)
		}
		if p.IP == netip.MustParseAddr("10.77.0.20") {
			modality = &pacs.TopPeers[i]
		}
	}
	if modality == nil {
		t.Fatalf("the modality 10.77.0.20 is not among the PACS's peers %+v", pacs.TopPeers)
	}
	// The benign run alone opens 5 associations, so at least 5 flows; the
	// 13 CT images make it hundreds of kilobytes (530 kB): at least 100 kB.
	if modality.Asset != "mac-024d4c000014" || !slices.Contains(modality.Protocols, "dicom") || modality.Flows < 5 || modality.Bytes < 100_000 || modality.LastSeen.IsZero() {
		t.Errorf("the modality as the PACS's peer: %+v", *modality)
	}
	t.Logf("PACS peers: %+v", pacs.TopPeers)
}
