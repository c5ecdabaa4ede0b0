package asset

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/oui"
	"github.com/heir-emd/heir/internal/testenv"
)

// TestNDPICaptures runs every nDPI capture (LGPL: read in place) into an
// inventory and checks that what comes out is sound: no panic, every
// address in one device at most, only unicast MACs, no device for an
// address outside the home networks unless ARP bound it, confidences in
// [0,1], roles from the vocabulary, the same output twice.
func TestNDPICaptures(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "pcap", "ndpi")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	roles := DefaultRoles()
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".pcap") && !strings.HasSuffix(name, ".pcapng") {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			inv := newTestInventory(t)
			runCapture(t, inv, filepath.Join(dir, name))
			assets := inv.Assets()
			seen := map[string]string{}
			var summary []string
			for _, a := range assets {
				checkAsset(t, inv, a, roles)
				for _, ip := range a.IPs {
					if other, dup := seen[ip.String()]; dup {
						t.Errorf("%s in %s and %s", ip, other, a.ID)
					}
					seen[ip.String()] = a.ID
				}
				if a.Role != "" {
					summary = append(summary, a.ID+"="+a.Role)
				}
			}
			again, _ := json.Marshal(inv.Assets())
			first, _ := json.Marshal(assets)
			if string(first) != string(again) {
				t.Error("Assets differs between two calls")
			}
			if os.Getenv("ASSET_DUMP") == name {
				for _, a := range assets {
					b, _ := json.Marshal(a)
					t.Logf("%s", b)
				}
			}
			t.Logf("%s: %d devices; roles: %s; %s", name, len(assets), strings.Join(summary, " "), inv.Stats())
		})
	}
	if n < 30 {
		t.Errorf("only %d captures in %s", n, dir)
	}
}

func checkAsset(t *testing.T, inv *Inventory, a event.Asset, roles map[string]string) {
	t.Helper()
	switch {
	case strings.HasPrefix(a.ID, "mac-"):
		m, err := oui.ParseMAC(a.MAC)
		if err != nil || mid(a.MAC) != a.ID {
			t.Errorf("%s: MAC %q", a.ID, a.MAC)
		} else if k := oui.KindOf(m); k != oui.Universal && k != oui.Local {
			t.Errorf("%s: %v MAC as a device", a.ID, k)
		}
	case strings.HasPrefix(a.ID, "ip-"):
		if a.MAC != "" || len(a.IPs) != 1 || "ip-"+a.IPs[0].String() != a.ID {
			t.Errorf("%s: MAC %q IPs %v", a.ID, a.MAC, a.IPs)
		}
	default:
		t.Errorf("bad id %q", a.ID)
	}
	for _, ip := range a.IPs {
		if !inv.usable(ip) {
			t.Errorf("%s: unusable address %s", a.ID, ip)
		}
		if !inv.home(ip) && !slices.ContainsFunc(a.Evidence, func(e event.Evidence) bool {
			return e.Attr == attrIP && e.Value == ip.String() && strings.HasPrefix(e.Source, "arp")
		}) {
			t.Errorf("%s: remote address %s without ARP binding", a.ID, ip)
		}
	}
	if a.Role != "" {
		if _, ok := roles[a.Role]; !ok {
			t.Errorf("%s: role %q outside the vocabulary", a.ID, a.Role)
		}
	}
	for _, e := range a.Evidence {
		if !(e.Confidence >= 0 && e.Confidence <= 1) || e.Attr == "" || e.Source == "" {
			t.Errorf("%s: bad evidence %+v", a.ID, e)
		}
	}
	if a.FirstSeen.After(a.LastSeen) || a.FirstSeen.IsZero() {
		t.Errorf("%s: seen %v..%v", a.ID, a.FirstSeen, a.LastSeen)
	}
}
