package event

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var at = time.Date(2026, 11, 28, 15, 43, 40, 172723000, time.UTC)

func examples() map[string]any {
	icmp := uint8(8)
	return map[string]any{
		"flow": &Flow{V: Version, Type: TypeFlow, ID: "9c1f0e5b7a2d4c61", Start: at, End: at.Add(438 * time.Millisecond),
			Transport: "tcp", Client: Endpoint{IP: netip.MustParseAddr("10.77.0.20"), Port: 40112, MAC: "02:4d:4c:00:00:14"},
			Server: Endpoint{IP: netip.MustParseAddr("10.77.0.10"), Port: 4242, MAC: "02:4d:4c:00:00:0a"},
			Proto:  "dicom", Reason: "fin", Counts: [2]Counts{{12, 1502, 718}, {10, 1140, 460}},
			ClientTCP: "SAPF", ServerTCP: "SAPF"},
		"flow-icmp": &Flow{V: Version, Type: TypeFlow, ID: "00000000000000aa", Start: at, End: at,
			Transport: "icmp", Client: Endpoint{IP: netip.MustParseAddr("10.77.0.66")}, Server: Endpoint{IP: netip.MustParseAddr("fd00::1")},
			Reason: "idle", Counts: [2]Counts{{1, 42, 8}, {}}, ICMPType: &icmp, VLAN: 7},
		"observation": &Observation{V: Version, Type: TypeObservation, Time: at, Flow: "4be0aa", Frame: 1234,
			Src: Endpoint{IP: netip.MustParseAddr("10.77.0.31"), Port: 51234}, Dst: Endpoint{IP: netip.MustParseAddr("10.77.0.30"), Port: 2575}, Dir: ToServer,
			Transport: "tcp", Proto: "hl7", Kind: "message", Detail: map[string]string{"type": "ADT^A01"},
			Facts:      []Fact{{About: AboutSrc, Attr: AttrHL7App, Value: "HIS^GENHOSP", Confidence: 0.95}},
			Weaknesses: []Weakness{{Kind: WeakCleartextPHI, About: AboutSrc, Detail: "PID, NK1 segments in ADT^A01"}}},
		"asset": &Asset{V: Version, Type: TypeAsset, ID: "mac-024d4c00000a", MAC: "02:4d:4c:00:00:0a",
			IPs: []netip.Addr{netip.MustParseAddr("10.77.0.10")}, Role: "pacs", Software: []string{"OFFIS_DCMTK_367"},
			Services: []Service{{Transport: "tcp", Port: 4242, Proto: "dicom"}}, Protocols: []string{"dicom", "tls"},
			Peers: 5, FirstSeen: at, LastSeen: at.Add(time.Minute),
			Evidence:   []Evidence{{Attr: AttrRole, Value: "pacs", Confidence: 0.9, Source: "dicom:c-store server", Flow: "f1", Frame: 88, Time: at}},
			Weaknesses: []AssetWeakness{{Kind: WeakCleartextPHI, Proto: "dicom", Detail: "patient attributes", Count: 13, FirstSeen: at, LastSeen: at}},
			TopPeers: []Peer{{IP: netip.MustParseAddr("10.77.0.20"), Asset: "mac-024d4c000014", Protocols: []string{"dicom"}, Flows: 5, Bytes: 1204312, LastSeen: at},
				{IP: netip.MustParseAddr("10.77.0.66"), Protocols: []string{"dicom", "tcp/443"}, Flows: 90, Bytes: 30210, LastSeen: at.Add(time.Minute)}}},
		"finding": &Finding{V: Version, Type: TypeFinding, ID: "fd1c0a7e22b94f10", Rule: "cleartext-phi", Kind: "cleartext-phi",
			Title: "Patient data in cleartext DICOM", Severity: SeverityHigh, Asset: "mac-024d4c000014",
			Endpoint: Endpoint{IP: netip.MustParseAddr("10.77.0.20")}, Proto: "dicom", Detail: "patient attributes (0010,0010) in C-STORE-RQ data set",
			FirstSeen: at, LastSeen: at.Add(time.Minute), Count: 13,
			Evidence:    []Reference{{Flow: "5b5445f0e55a7a18", Frame: 409, Time: at, What: "dicom/c-store-rq"}},
			Tags:        []Tag{{Taxonomy: TaxENISA, ID: "11", Name: "Information leakage", Reason: "patient data readable on the network"}},
			Remediation: "Enable DICOM TLS (port 2762) or segment the modality and PACS", State: StateOpen},
		"alert": &Alert{V: Version, Type: TypeAlert, ID: "a9e8", Rule: "port-scan", Category: "reconnaissance", Title: "TCP SYN port scan",
			Description: "10.77.0.66 probed 18 ports on 11 hosts", Severity: SeverityMedium,
			Source: Endpoint{IP: netip.MustParseAddr("10.77.0.66")}, Targets: []Endpoint{{IP: netip.MustParseAddr("10.77.0.10")}}, TargetCount: 11,
			Start: at, End: at.Add(4 * time.Second), Count: 198, Counts: map[string]uint64{"ports": 18, "hosts": 11},
			Samples: map[string]string{"ports": "21,22,23,80"}, Evidence: []Reference{{Flow: "83278af48c8fabbb", Time: at}},
			Tags: []Tag{{Taxonomy: TaxATTACK, ID: "T1046", Name: "Network Service Discovery"}}, Remediation: "Find the scanning host", Final: true},
	}
}

// TestGolden pins the wire encoding: a change here is a change of the
// documented format (docs/events.md) and must be deliberate.
func TestGolden(t *testing.T) {
	for name, v := range examples() {
		got, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", name+".json")
		if *update {
			os.WriteFile(path, append(got, '\n'), 0o644)
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(bytes.TrimSpace(want), got) {
			t.Errorf("%s: encoding changed:\n%s\nwant:\n%s", name, got, want)
		}
		// Decoding gives back the same record (Detail aside, which decodes
		// into generic JSON values).
		back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := json.Unmarshal(want, back); err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if o, ok := back.(*Observation); ok {
			o.Detail = v.(*Observation).Detail
		}
		if !reflect.DeepEqual(back, v) {
			t.Errorf("%s: round trip differs:\n%+v\n%+v", name, back, v)
		}
	}
}
