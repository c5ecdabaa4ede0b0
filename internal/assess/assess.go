// Package assess joins what heir knows about a hospital's devices into
// the RAMA score's inputs: the passive inventory, imported inventories
// (which say what a device is when the wire does not), the vulnerability
// knowledge matched against both, the findings and alerts of the
// threat-hunting tier, and the site's declarations (controls, clinical
// functions). `heir score`, `heir explain` and the node use it, so that a
// device scores the same wherever it is scored.
package assess

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/inventory"
	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/vuln"
)

// Inputs is everything known about the devices at one time.
type Inputs struct {
	Assets   []event.Asset
	Findings []event.Finding
	Alerts   []event.Alert
	// Detection says Findings come from the detection rules. Without it
	// the inventory's own weaknesses stand for findings; with it they
	// would count twice.
	Detection bool
	// Imported are devices from inventory imports.
	Imported []inventory.Device
	// Knowledge is the vulnerability knowledge; nil skips matching.
	Knowledge vuln.Knowledge
	Norm      *vuln.Normaliser
	// Site declares controls and clinical functions; nil declares none.
	Site *rama.Site
	// Severity rates inventory weaknesses when Detection is off.
	Severity func(event.WeaknessKind) string
	// At is the time scores are computed for.
	At time.Time
}

// Device is one assessed device: RAMA's input and what it was built from.
type Device struct {
	Input   rama.Device
	Addrs   []netip.Addr
	MAC     string
	Asset   *event.Asset      // nil for a device only imported
	Import  *inventory.Device // nil for a device only seen
	Matches *vuln.DeviceResult
}

type entry struct{ dev Device }

// Build assesses every device.
func Build(ctx context.Context, in Inputs) ([]Device, error) {
	if in.At.IsZero() {
		in.At = time.Now()
	}
	var order []string
	byID := map[string]*entry{}
	byAddr := map[netip.Addr]*entry{}
	byMAC := map[string]*entry{}
	for i := range in.Assets {
		a := &in.Assets[i]
		e := &entry{dev: Device{Asset: a, Addrs: a.IPs, MAC: strings.ToLower(a.MAC)}}
		if prev, ok := byID[a.ID]; ok {
			e = prev
		} else {
			byID[a.ID] = e
			order = append(order, a.ID)
		}
		for _, ip := range a.IPs {
			byAddr[ip] = e
		}
		if e.dev.MAC != "" {
			byMAC[e.dev.MAC] = e
		}
	}
	// An imported device is the same as a seen one when it shares its id
	// (both derive ids from the MAC, else the address), its MAC or one of
	// its addresses; then the import says what the device is.
	for i := range in.Imported {
		d := &in.Imported[i]
		e := byID[d.ID]
		if e == nil && d.MAC != "" {
			e = byMAC[strings.ToLower(d.MAC)]
		}
		if e == nil && d.IP.IsValid() {
			e = byAddr[d.IP]
		}
		if e == nil {
			e = &entry{dev: Device{MAC: strings.ToLower(d.MAC)}}
			if d.IP.IsValid() {
				e.dev.Addrs = []netip.Addr{d.IP}
				byAddr[d.IP] = e
			}
			id := d.ID
			if id == "" {
				id = fmt.Sprintf("import-%d", d.Line)
			}
			byID[id] = e
			order = append(order, id)
		}
		e.dev.Import = d
	}

	out := make([]Device, 0, len(order))
	pos := map[*entry]int{}
	for _, id := range order {
		e := byID[id]
		e.dev.Input = base(id, e.dev, in)
		pos[e] = len(out)
		out = append(out, e.dev)
	}
	// lookup finds the device a finding or alert is about: by asset id,
	// else by address.
	lookup := func(id string, ip netip.Addr) *Device {
		e := byID[id]
		if e == nil {
			e = byAddr[ip]
		}
		if e == nil {
			return nil
		}
		return &out[pos[e]]
	}

	if in.Knowledge != nil {
		if err := match(ctx, in, out); err != nil {
			return nil, err
		}
	}
	if in.Detection {
		for i := range in.Findings {
			f := &in.Findings[i]
			if d := lookup(f.Asset, f.Endpoint.IP); d != nil {
				d.Input.Findings = append(d.Input.Findings, rama.FindingFromEvent(f))
			}
		}
	}
	for i := range in.Alerts {
		a := &in.Alerts[i]
		involved := []*Device{lookup("", a.Source.IP)}
		for _, t := range a.Targets {
			involved = append(involved, lookup("", t.IP))
		}
		var done []*Device
		for _, d := range involved {
			if d == nil || slices.Contains(done, d) {
				continue
			}
			done = append(done, d)
			d.Input.Alerts = append(d.Input.Alerts, rama.AlertFromEvent(a, d.Addrs))
		}
	}
	if in.Site != nil {
		for i := range out {
			in.Site.Apply(&out[i].Input, out[i].Addrs)
		}
	}
	return out, nil
}

// base starts a device's RAMA input from what the inventory and the import
// say about it.
func base(id string, d Device, in Inputs) rama.Device {
	var r rama.Device
	if d.Asset != nil {
		if in.Detection {
			a := *d.Asset
			a.Weaknesses = nil // the detection rules' findings stand for them
			r = rama.FromAsset(&a, in.Severity)
		} else {
			r = rama.FromAsset(d.Asset, in.Severity)
		}
	}
	r.ID = id
	if im := d.Import; im != nil {
		if im.Name != "" {
			r.Name = im.Name
		}
		if im.Role != "" {
			r.Role = im.Role
		}
		if f := rama.Function(strings.ToLower(im.ClinicalFunction)); f != "" {
			r.Function = f
		}
	}
	return r
}

// match runs vulnerability matching for every device and adds its
// vulnerabilities and end-of-life components.
func match(ctx context.Context, in Inputs, devs []Device) error {
	norm := in.Norm
	if norm == nil {
		norm = vuln.DefaultNormaliser()
	}
	m, err := vuln.NewMatcher(ctx, in.Knowledge, norm)
	if err != nil {
		return fmt.Errorf("assess: %w", err)
	}
	inputs := make([]vuln.Device, len(devs))
	for i, d := range devs {
		inputs[i] = matchInput(d)
	}
	results, err := m.Match(ctx, inputs, vuln.MatchOptions{AsOf: in.At})
	if err != nil {
		return fmt.Errorf("assess: match: %w", err)
	}
	for i := range results {
		r := &results[i]
		d := &devs[i]
		d.Matches = r
		risk := r.Risk()
		for _, v := range risk.Vulns {
			d.Input.Vulnerabilities = append(d.Input.Vulnerabilities, rama.Vulnerability{
				ID: v.CVE, CVSS: v.CVSS, Vector: v.Vector, EPSS: v.EPSS, EPSSPercentile: v.EPSSPercentile,
				KEV: v.KEV, Ransomware: v.Ransomware, Status: rama.Status(v.Status), Component: v.Component})
		}
		for _, e := range risk.EOL {
			if e.EOL.IsZero() {
				continue
			}
			d.Input.EOL = append(d.Input.EOL, rama.EOLComponent{Name: e.Name, EOL: e.EOL, AsOf: in.At})
		}
	}
	return nil
}

// matchInput describes a device to matching: what the wire showed, with
// what the import declares taking precedence (an inventory knows the
// model and firmware; the wire often only the vendor).
func matchInput(d Device) vuln.Device {
	var v vuln.Device
	if d.Asset != nil {
		v = vuln.DeviceFromAsset(*d.Asset)
	}
	if im := d.Import; im != nil {
		w := im.MatchInput()
		v.Name = first(w.Name, v.Name)
		v.Vendor = first(w.Vendor, v.Vendor)
		v.Model = first(w.Model, v.Model)
		v.Firmware = first(w.Firmware, v.Firmware)
		v.OS = first(w.OS, v.OS)
		v.Software = append(w.Software, v.Software...)
	}
	v.ID = d.Input.ID
	return v
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
