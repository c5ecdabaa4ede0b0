package vuln

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/vuln/version"
)

func TestNormaliser(t *testing.T) {
	n := DefaultNormaliser()
	vendors := map[string]string{
		"GE Healthcare": "ge_healthcare", "GE": "ge_healthcare", "General Electric (GE)": "ge_healthcare",
		"Philips": "philips", "Koninklijke Philips N.V.": "philips", "Phillips": "philips",
		"B. Braun": "b_braun", "B. Braun Melsungen AG": "b_braun", "BD": "bd", "Becton, Dickinson and Company": "bd",
		"Becton, Dickinson and Company (BD)": "bd", "Dräger": "draeger", "the_jquery_foundation": "jquery",
		"Acme Medical GmbH": "acme_medical", "Medtronic ": "medtronic",
	}
	for in, want := range vendors {
		if got := n.Vendor(in); got != want {
			t.Errorf("Vendor(%q) = %q, want %q", in, got, want)
		}
	}
	if got := n.VendorKeys("Silex Technology and GE Healthcare"); len(got) != 2 || got[0] != "silex_technology" || got[1] != "ge_healthcare" {
		t.Errorf("VendorKeys(Silex and GE) = %v", got)
	}
	if got := n.VendorKeys("Becton, Dickinson and Company"); len(got) != 1 || got[0] != "bd" {
		t.Errorf("VendorKeys(Becton, Dickinson and Company) = %v, must not split a known name", got)
	}
	products := []struct{ vendor, name, want string }{
		{"bd", "BD Alaris PC Unit Model 8015", "alaris_pc_unit_8015"},
		{"bd", "Alaris PC Unit 8015", "alaris_pc_unit_8015"},
		{"newtonsoft", "newtonsoftjson", "json.net"},
		{"newtonsoft", "json.net", "json.net"},
		{"microsoft", "windows_7", "windows_7"},
	}
	for _, p := range products {
		if got := n.Product(p.vendor, p.name); got != p.want {
			t.Errorf("Product(%q, %q) = %q, want %q", p.vendor, p.name, got, p.want)
		}
	}
}

func TestSoftwareComponent(t *testing.T) {
	for in, want := range map[string][2]string{
		"vsftpd 3.0.3": {"vsftpd", "3.0.3"}, "OpenSSH_8.9p1 Ubuntu-3": {"OpenSSH", "8.9p1"}, "OFFIS_DCMTK_367": {"OFFIS_DCMTK", "367"},
		"Apache/2.4.41 (Ubuntu)": {"Apache", "2.4.41"}, "mosquitto": {"mosquitto", ""},
	} {
		c := SoftwareComponent(in)
		if c.Name != want[0] || c.Version != want[1] {
			t.Errorf("SoftwareComponent(%q) = %q %q, want %q %q", in, c.Name, c.Version, want[0], want[1])
		}
	}
}

// kbWith builds a knowledge base from statements written by hand.
func kbWith(t *testing.T, vulns []Vulnerability, st ...Affected) *KB {
	kb := NewKB()
	kb.Apply(Batch{Source: "test", Vulns: vulns, Affected: st})
	return kb
}

func TestMatchRules(t *testing.T) {
	norm := DefaultNormaliser()
	cvss, err := ScoreVector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "")
	if err != nil || cvss.BaseScore != 9.8 {
		t.Fatalf("score %v %v", cvss, err)
	}
	kb := kbWith(t, []Vulnerability{{ID: "CVE-2099-0001", CVSS: []CVSS{cvss}}},
		Affected{CVE: "CVE-2099-0001", Source: "csaf:A", Vendor: "BD", Product: "BD Alaris PC Unit Model 8015", VendorKey: "bd", ProductKey: norm.Product("bd", "BD Alaris PC Unit Model 8015"),
			Versions: version.ParseRange("< 9.33"), Status: StatusAffected},
		Affected{CVE: "CVE-2099-0002", Source: "nvd:x", CPE: "cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*", VendorKey: "microsoft", ProductKey: "windows_7",
			Versions: version.FromBounds("-", "", "", "", ""), Status: StatusAffected},
		Affected{CVE: "CVE-2099-0003", Source: "osv", PURL: "pkg:nuget/Newtonsoft.Json", Versions: version.ParseRange("vers:nuget/<13.0.1"), Status: StatusAffected},
		Affected{CVE: "CVE-2099-0001", Source: "vex:1", VendorKey: "bd", ProductKey: "alaris_pc_unit_8015", Versions: version.ParseRange("9.19"), Status: StatusNotAffected, Justification: "component_not_present"},
	)
	kb.Decide(Decision{Subject: "dev-3", CVE: "CVE-2099-0003", Product: "purl:nuget/newtonsoft.json", State: DecisionAccepted, Comment: "isolated VLAN"})
	m, err := NewMatcher(context.Background(), kb, norm)
	if err != nil {
		t.Fatal(err)
	}
	devs := []Device{
		{ID: "dev-1", Vendor: "Becton Dickinson", Model: "Alaris 8015 PC Unit", Firmware: "9.19"}, // tokens equal: suppressed by VEX
		{ID: "dev-2", Vendor: "BD", Model: "Alaris PC Unit Model 8015", Firmware: "9.20"},         // exact key, in range
		{ID: "dev-3", OS: "Windows 7 Enterprise SP1", Software: []Component{{Name: "x", PURL: "pkg:nuget/newtonsoft.json@9.0.1"}}},
		{ID: "dev-4", Vendor: "BD", Model: "Alaris PC Unit Model 8015", Firmware: "9.33"},                      // fixed
		{ID: "dev-5", Vendor: "BD", Model: "Alaris", Firmware: "9.1"},                                          // too vague: "alaris" alone is within the product
		{ID: "dev-6", Vendor: "Philips", Model: "Alaris PC Unit Model 8015", Firmware: "9.1"},                  // other vendor
		{ID: "dev-7", OS: "Windows 10 Pro", Software: []Component{{PURL: "pkg:nuget/Newtonsoft.Json@13.0.1"}}}, // other OS, fixed package
	}
	res, err := m.Match(context.Background(), devs, MatchOptions{AsOf: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	count := func(i int) int { return len(res[i].Matches) }
	if count(0) != 1 || res[0].Matches[0].Suppressed == nil || res[0].Matches[0].Suppressed.Justification != "component_not_present" || res[0].Matches[0].Active() {
		t.Errorf("dev-1: %+v", res[0].Matches)
	}
	if count(1) != 1 || res[1].Matches[0].Confidence != 0.85 || res[1].Matches[0].CVSS != 9.8 || !res[1].Matches[0].Active() || res[1].Matches[0].Product != "csaf:bd/alaris_pc_unit_8015" {
		t.Errorf("dev-2: %+v", res[1].Matches)
	}
	if count(2) != 2 {
		t.Fatalf("dev-3: %+v", res[2].Matches)
	}
	if d := res[2].Matches[1].Decision; res[2].Matches[1].CVE != "CVE-2099-0003" || d == nil || d.State != DecisionAccepted {
		t.Errorf("dev-3 purl match and decision: %+v", res[2].Matches[1])
	}
	if r := res[2].Risk(); len(r.Vulns) != 2 || r.Vulns[1].Status != event.StateAccepted || r.Vulns[0].Vector != "" || r.Vulns[0].Status != event.StateOpen {
		t.Errorf("dev-3 risk %+v", r)
	}
	for _, i := range []int{3, 4, 5, 6} {
		if count(i) != 0 {
			t.Errorf("%s: unexpected matches %+v", devs[i].ID, res[i].Matches[0].Evidence)
		}
	}
}

func TestDeviceFromAsset(t *testing.T) {
	a := event.Asset{ID: "mac-024d4c000032", Vendor: "Philips Medical Systems", Model: "PM-8000", OS: "Linux 6.18.44-fc-v782",
		IPs: []netip.Addr{netip.MustParseAddr("10.77.0.50")}, Software: []string{"vsftpd 3.0.3"},
		Services: []event.Service{{Transport: "tcp", Port: 22, Software: "OpenSSH_8.9p1"}, {Transport: "tcp", Port: 21, Software: "vsftpd 3.0.3"}}}
	d := DeviceFromAsset(a)
	if d.ID != a.ID || d.Vendor != a.Vendor || len(d.Software) != 2 || d.Software[1].Name != "OpenSSH" {
		t.Errorf("device %+v", d)
	}
}

func TestEOLFor(t *testing.T) {
	products := []EOLProduct{{Slug: "ubuntu", Releases: []EOLRelease{{Cycle: "22.04", EOL: time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)}, {Cycle: "18.04", EOL: time.Date(2023, 5, 31, 0, 0, 0, 0, time.UTC)}}}}
	f, ok := EOLFor(products, "Ubuntu 18.04.6 LTS", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	if !ok || f.Cycle != "18.04" || !f.Unsupported {
		t.Errorf("ubuntu 18.04: %+v %v", f, ok)
	}
	if _, ok := EOLFor(products, "Windows 7", time.Now()); ok {
		t.Error("a product the catalogue does not have was flagged")
	}
}
