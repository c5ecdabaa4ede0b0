package assess

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/inventory"
)

var at = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

func TestJoin(t *testing.T) {
	pump := netip.MustParseAddr("10.1.0.40")
	attacker := netip.MustParseAddr("10.1.0.66")
	assets := []event.Asset{
		{ID: "mac-020000000040", MAC: "02:00:00:00:00:40", IPs: []netip.Addr{pump}, Role: "medical-telemetry",
			Weaknesses: []event.AssetWeakness{{Kind: event.WeakCleartextPHI, Proto: "mqtt"}}},
		{ID: "mac-020000000066", MAC: "02:00:00:00:00:66", IPs: []netip.Addr{attacker}, Role: "workstation"},
	}
	// The import knows what the pump is; a second imported device was
	// never seen on the wire.
	imported := []inventory.Device{
		{ID: "mac-020000000040", MAC: "02:00:00:00:00:40", Role: "infusion-pump", ClinicalFunction: "therapy", Name: "pump-icu3"},
		{ID: "ip-10.1.0.77", IP: netip.MustParseAddr("10.1.0.77"), Role: "ventilator", Name: "vent-7"},
	}
	findings := []event.Finding{{ID: "f1", Kind: "cleartext-phi", Severity: "high", State: "open", Endpoint: event.Endpoint{IP: pump}, Proto: "mqtt"}}
	alerts := []event.Alert{{ID: "a1", Severity: "high", Category: "brute-force", Start: at, End: at,
		Source: event.Endpoint{IP: attacker}, Targets: []event.Endpoint{{IP: pump}}}}

	for _, detection := range []bool{true, false} {
		devs, err := Build(context.Background(), Inputs{Assets: assets, Imported: imported, Findings: findings, Alerts: alerts, Detection: detection, At: at})
		if err != nil {
			t.Fatal(err)
		}
		if len(devs) != 3 {
			t.Fatalf("%d devices, want 3 (pump merged with its import)", len(devs))
		}
		p := devs[0].Input
		if p.ID != "mac-020000000040" || p.Role != "infusion-pump" || p.Function != "therapy" || p.Name != "pump-icu3" {
			t.Fatalf("pump %+v", p)
		}
		// One cleartext-PHI finding either way: from the rules, or from the
		// inventory's weaknesses when detection is off — never both.
		if len(p.Findings) != 1 {
			t.Fatalf("detection=%v: pump findings %+v", detection, p.Findings)
		}
		if len(p.Alerts) != 1 || p.Alerts[0].Direction != "target" {
			t.Fatalf("pump alerts %+v", p.Alerts)
		}
		if a := devs[1].Input; len(a.Alerts) != 1 || a.Alerts[0].Direction != "source" {
			t.Fatalf("attacker alerts %+v", a.Alerts)
		}
		if v := devs[2]; v.Input.ID != "ip-10.1.0.77" || v.Asset != nil || v.Input.Role != "ventilator" {
			t.Fatalf("imported-only device %+v", v)
		}
	}
}
