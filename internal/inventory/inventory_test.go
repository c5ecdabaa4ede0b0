package inventory

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
	"github.com/heir-emd/heir/internal/vuln"
)

const inv = `Name,IP Address,MAC,Manufacturer,Model,Firmware,OS,Role,Clinical Function,Location,Criticality,Software,Colour
pump-icu-07,10.77.0.40,02:4d:4c:00:00:28,BD,Alaris PC Unit Model 8015,9.19,,infusion-pump,therapy,ICU 3,critical,
pacs01,10.77.0.10,,Philips,IntelliSpace PACS,4.4,Windows Server 2008 R2 SP1,pacs,diagnosis,Imaging,high,OpenSSL 1.0.2k; jQuery 1.12.4,blue
bad-ip,10.77.0.300,,GE,,,,,,,,,
bad-crit,10.77.0.41,,GE,,,,,monitoring,,urgent,,
,,,,,,,,,,,,
pacs01-dup,10.77.0.10,,Philips,,,,,,,,,
"unterminated,10.77.0.50
`

func TestReadCSV(t *testing.T) {
	r, err := ReadCSV("inv.csv", strings.NewReader(inv))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Devices) != 2 {
		t.Fatalf("%d devices, want 2: %+v", len(r.Devices), r.Devices)
	}
	p := r.Devices[0]
	if p.ID != "mac-024d4c000028" || p.ClinicalFunction != "therapy" || p.Criticality != "critical" || p.Line != 2 || p.Firmware != "9.19" {
		t.Errorf("pump = %+v", p)
	}
	x := r.Devices[1]
	if x.ID != "ip-10.77.0.10" || len(x.Software) != 2 || x.Software[0].Name != "OpenSSL" || x.Software[0].Version != "1.0.2k" || x.Software[1].Version != "1.12.4" {
		t.Errorf("pacs = %+v", x)
	}
	want := []struct {
		line, col int
		has       string
	}{
		{1, 13, "unknown column \"Colour\""},
		{4, 2, "10.77.0.300"},
		{5, 11, "criticality \"urgent\""},
		{6, 0, "no id, name, ip or mac"},
		{7, 0, "already on line 3"},
		{8, 0, "reading stopped"},
	}
	if len(r.Problems) != len(want) {
		t.Fatalf("problems %v", r.Problems)
	}
	for i, w := range want {
		p := r.Problems[i]
		if p.Line != w.line || (w.col != 0 && p.Column != w.col) || !strings.Contains(p.Msg, w.has) {
			t.Errorf("problem %d = %s; want line %d col %d with %q", i, p, w.line, w.col, w.has)
		}
	}
	_, err = ReadCSV("x.csv", strings.NewReader("vendor;model\nBD;Alaris\n"))
	var fe *vuln.FileError
	if !errors.As(err, &fe) || !strings.Contains(fe.Problem.Msg, "none of id, name, ip, mac") {
		t.Errorf("header without identifiers: %v", err)
	}
	// Semicolon-separated exports.
	r, err = ReadCSV("y.csv", strings.NewReader("name;ip;vendor\nmon-1;10.0.0.5;Philips\n"))
	if err != nil || len(r.Devices) != 1 || r.Devices[0].Vendor != "Philips" {
		t.Errorf("semicolon CSV: %+v %v", r, err)
	}
}

func TestReadSBOM(t *testing.T) {
	data, err := os.ReadFile(testenv.DataFile(t, "sbom/narrow.sbom.json"))
	if err != nil {
		t.Fatal(err)
	}
	norm := vuln.DefaultNormaliser()
	if _, err := ReadSBOM("narrow.json", data, "", "", norm); err == nil {
		t.Error("redacted model accepted without --model")
	}
	r, err := ReadSBOM("narrow.json", data, "Acme", "Narrow", norm)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.SBOM.Components) != 55 || r.SBOM.ModelKey != "acme/narrow" || len(r.Problems) != 0 {
		t.Errorf("%d components, key %q, problems %v", len(r.SBOM.Components), r.SBOM.ModelKey, r.Problems)
	}
	for _, c := range r.SBOM.Components {
		if c.CPE == "" || c.PURL == "" {
			t.Errorf("component %+v lost its CPE or purl", c)
		}
	}
}

const xmlBOM = `<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" version="1">
  <metadata><component type="device" bom-ref="dev"><manufacturer><name>B. Braun Melsungen AG</name></manufacturer><name>Space Infusion Pump</name><version>688J</version></component></metadata>
  <components>
    <component type="library" bom-ref="ssl"><name>openssl</name><version>1.0.2k</version><cpe>cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*</cpe><purl>pkg:generic/openssl@1.0.2k</purl></component>
    <component type="library" bom-ref="bad"><name>x</name><cpe>cpe:2.3:a:broken</cpe></component>
  </components>
  <vulnerabilities>
    <vulnerability><id>CVE-2016-2107</id><analysis><state>not_affected</state><justification>code_not_reachable</justification><detail>AES-NI not used</detail></analysis><affects><target><ref>ssl</ref></target></affects></vulnerability>
    <vulnerability><id>CVE-2099-1</id><analysis><state>not_affected</state></analysis><affects><target><ref>dev</ref></target></affects></vulnerability>
  </vulnerabilities>
</bom>`

func TestReadSBOMXMLWithVEX(t *testing.T) {
	norm := vuln.DefaultNormaliser()
	r, err := ReadSBOM("pump.xml", []byte(xmlBOM), "", "", norm)
	if err != nil {
		t.Fatal(err)
	}
	if r.SBOM.ModelKey != "b_braun/space_infusion_pump" || len(r.SBOM.Components) != 2 || r.SBOM.Components[1].CPE != "" {
		t.Errorf("sbom %+v", r.SBOM)
	}
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Path, "/components/1/cpe") {
		t.Errorf("problems %v", r.Problems)
	}
	if len(r.VEX) != 2 {
		t.Fatalf("vex %+v", r.VEX)
	}
	if v := r.VEX[0]; v.CVE != "CVE-2016-2107" || v.VendorKey != "openssl" || v.ProductKey != "openssl" || v.Justification != "code_not_reachable" || v.Status != vuln.StatusNotAffected {
		t.Errorf("component statement %+v", v)
	}
	if v := r.VEX[1]; v.VendorKey != "b_braun" || v.ProductKey != "space_infusion_pump" {
		t.Errorf("device statement %+v", v)
	}
	_, err = ReadSBOM("bad.xml", []byte("<bom>\n<components>\n<component"), "a", "b", norm)
	var fe *vuln.FileError
	if !errors.As(err, &fe) || fe.Problem.Line == 0 {
		t.Errorf("broken XML: %v", err)
	}
}
