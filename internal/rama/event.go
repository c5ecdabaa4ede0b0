package rama

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/heir-emd/heir/internal/event"
)

// FromAsset starts a Device from an inventory record: id, host name, role,
// peer count, and one finding per weakness kind and protocol seen on it
// (the inventory keeps one record per kind, protocol and detail text; one
// weakness on one service is one door, however it was worded). severity
// rates a weakness kind (the report's ranking); nil leaves findings
// unrated. Vulnerabilities, end-of-life components, alerts, exposure
// beyond peers and controls come from elsewhere.
func FromAsset(a *event.Asset, severity func(event.WeaknessKind) string) Device {
	d := Device{ID: a.ID, Name: a.Hostname, Role: a.Role, Exposure: Exposure{Peers: a.Peers}}
	type key struct {
		kind  event.WeaknessKind
		proto string
	}
	seen := map[key]bool{}
	for _, w := range a.Weaknesses {
		k := key{w.Kind, w.Proto}
		if seen[k] {
			continue
		}
		seen[k] = true
		f := Finding{Kind: string(w.Kind), Status: StatusOpen, Detail: w.Proto}
		if severity != nil {
			f.Severity = severity(w.Kind)
		}
		d.Findings = append(d.Findings, f)
	}
	slices.SortStableFunc(d.Findings, func(x, y Finding) int {
		if c := cmp.Compare(x.Kind, y.Kind); c != 0 {
			return c
		}
		return cmp.Compare(x.Detail, y.Detail)
	})
	return d
}

// FindingFromEvent converts a finding record of the threat-hunting tier.
func FindingFromEvent(f *event.Finding) Finding {
	detail := f.Proto
	if f.Endpoint.Port != 0 {
		detail = strings.TrimSpace(detail + " port " + strconv.Itoa(int(f.Endpoint.Port)))
	}
	return Finding{ID: f.ID, Kind: f.Kind, Severity: f.Severity, Status: Status(f.State), Detail: detail}
}

// AlertFromEvent converts an alert record for the device holding addrs:
// it is the alert's source when one of addrs is the source address, else
// its target. The alert's ENISA tags are kept.
func AlertFromEvent(a *event.Alert, addrs []netip.Addr) Alert {
	out := Alert{ID: a.ID, Time: a.Start, Severity: a.Severity, Category: a.Category, Direction: DirectionTarget, Title: a.Title}
	// An alert still going on counts from its latest activity.
	if a.End.After(a.Start) {
		out.Time = a.End
	}
	if slices.Contains(addrs, a.Source.IP) {
		out.Direction = DirectionSource
	}
	for _, t := range a.Tags {
		if t.Taxonomy != event.TaxENISA {
			continue
		}
		if id, err := strconv.Atoi(t.ID); err == nil && id >= 1 && id <= NumENISA && !slices.Contains(out.ENISA, id) {
			out.ENISA = append(out.ENISA, id)
		}
	}
	return out
}
