package rama

import (
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

func TestFromAsset(t *testing.T) {
	a := &event.Asset{ID: "mac-024d4c000032", Hostname: "pm8000-icu3", Role: "patient-monitor", Peers: 2,
		Weaknesses: []event.AssetWeakness{
			{Kind: event.WeakDefaultCredentials, Proto: "telnet", Detail: "known default user name and password accepted over Telnet"},
			{Kind: event.WeakCleartextPHI, Proto: "dicom", Detail: "patient attributes (0010,0010) in C-STORE-RQ"},
			{Kind: event.WeakCleartextPHI, Proto: "dicom", Detail: "patient attributes (0010,0020) in C-FIND-RSP"},
			{Kind: event.WeakDefaultCredentials, Proto: "ftp", Detail: "known default user name and password accepted over FTP"},
		}}
	sev := func(k event.WeaknessKind) string {
		if k == event.WeakDefaultCredentials {
			return "high"
		}
		return "medium"
	}
	d := FromAsset(a, sev)
	if d.ID != a.ID || d.Name != "pm8000-icu3" || d.Role != "patient-monitor" || d.Exposure.Peers != 2 {
		t.Errorf("%+v", d)
	}
	// One finding per kind and protocol, sorted.
	want := []Finding{{Kind: "cleartext-phi", Severity: "medium", Status: StatusOpen, Detail: "dicom"},
		{Kind: "default-credentials", Severity: "high", Status: StatusOpen, Detail: "ftp"},
		{Kind: "default-credentials", Severity: "high", Status: StatusOpen, Detail: "telnet"}}
	if len(d.Findings) != len(want) {
		t.Fatalf("%+v", d.Findings)
	}
	for i := range want {
		if d.Findings[i] != want[i] {
			t.Errorf("finding %d: %+v, want %+v", i, d.Findings[i], want[i])
		}
	}
	if u := FromAsset(a, nil); u.Findings[0].Severity != "" {
		t.Errorf("unrated: %+v", u.Findings[0])
	}
}

func TestFindingFromEvent(t *testing.T) {
	f := &event.Finding{ID: "fd1", Kind: "cleartext-phi", Severity: "high", Proto: "dicom",
		Endpoint: event.Endpoint{IP: netip.MustParseAddr("10.77.0.10"), Port: 4242}, State: event.StateAccepted}
	got := FindingFromEvent(f)
	if got != (Finding{ID: "fd1", Kind: "cleartext-phi", Severity: "high", Status: StatusAccepted, Detail: "dicom port 4242"}) {
		t.Errorf("%+v", got)
	}
}

func TestAlertFromEvent(t *testing.T) {
	start := time.Date(2026, 11, 28, 15, 44, 15, 0, time.UTC)
	a := &event.Alert{ID: "a1", Category: "reconnaissance", Severity: "medium", Title: "TCP SYN port scan",
		Source: event.Endpoint{IP: netip.MustParseAddr("10.77.0.66")}, Start: start, End: start.Add(2 * time.Second),
		Tags: []event.Tag{{Taxonomy: event.TaxATTACK, ID: "T1046"}, {Taxonomy: event.TaxENISA, ID: "15"}, {Taxonomy: event.TaxENISA, ID: "15"}, {Taxonomy: event.TaxENISA, ID: "99"}}}
	target := AlertFromEvent(a, []netip.Addr{netip.MustParseAddr("10.77.0.50")})
	if target.Direction != DirectionTarget || !target.Time.Equal(start.Add(2*time.Second)) || len(target.ENISA) != 1 || target.ENISA[0] != 15 ||
		target.Category != "reconnaissance" || target.Severity != "medium" || target.ID != "a1" {
		t.Errorf("%+v", target)
	}
	source := AlertFromEvent(a, []netip.Addr{netip.MustParseAddr("fd00::1"), netip.MustParseAddr("10.77.0.66")})
	if source.Direction != DirectionSource {
		t.Errorf("%+v", source)
	}
}
