package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// maxDetails bounds the distinct weakness texts a finding lists.
const maxDetails = 4

// findingState is a standing finding as the engine keeps it.
type findingState struct {
	f        event.Finding
	details  []string
	dirty    bool
	queued   bool // in the engine's queue of changed findings
	lastEmit time.Time
}

// weakness turns one weakness of an observation into (an update of) a
// finding: the first finding rule, in file order, whose where holds.
func (e *Engine) weakness(o *event.Observation, w *event.Weakness) {
	c := evctx{on: OnWeakness, obs: o, weak: w, t: o.Time, rc: e.rc}
	for _, r := range e.cur.findingRules {
		if r.where.match(&c) {
			ep := o.Src
			if w.About == event.AboutDst {
				ep = o.Dst
			}
			server := (w.About == event.AboutSrc && o.Dir == event.ToClient) || (w.About == event.AboutDst && o.Dir == event.ToServer)
			end := event.Endpoint{IP: ep.IP, MAC: ep.MAC}
			if server {
				end.Port = ep.Port
			}
			ref := event.Reference{Flow: o.Flow, Frame: o.Frame, Time: o.Time, What: o.Proto + "/" + o.Kind}
			e.upsertFinding(r, string(w.Kind), end, o.Proto, w.Detail, ref, o.Time)
			return
		}
	}
	e.stats.UnmatchedWeaknesses++
}

// findingID derives a finding's id from what it is about, so that every
// sighting of the same weakness updates one finding.
func findingID(rule, kind string, ep event.Endpoint, proto string) string {
	h := sha256.New()
	for _, s := range []string{rule, kind, ep.IP.String(), strconv.Itoa(int(ep.Port)), proto} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// upsertFinding creates or updates the finding of rule r about endpoint
// ep. A new finding is emitted at once; later sightings are emitted at
// most every FindingUpdate, and at Flush.
func (e *Engine) upsertFinding(r *rule, kind string, ep event.Endpoint, proto, detail string, ref event.Reference, t time.Time) {
	e.stats.Weaknesses++
	key := findingKey{r.id, kind, ep.IP, ep.Port, proto}
	fs := e.findings[key]
	if fs == nil {
		if len(e.findings) >= e.lim.MaxFindings {
			e.stats.FindingsFull++
			return
		}
		fs = &findingState{f: event.Finding{
			V: event.Version, Type: event.TypeFinding, ID: findingID(r.id, kind, ep, proto), Rule: r.id, Kind: kind,
			Severity: r.severity, Endpoint: ep, Proto: proto, FirstSeen: t.UTC(), LastSeen: t.UTC(),
			Tags: slices.Clone(r.tags), Remediation: r.remediation, State: event.StateOpen,
		}}
		if e.cfg.AssetID != nil {
			fs.f.Asset = e.cfg.AssetID(ep)
		}
		e.findings[key] = fs
		e.findingOrder = append(e.findingOrder, key)
	}
	f := &fs.f
	f.Count++
	if t.Before(f.FirstSeen) {
		f.FirstSeen = t.UTC()
	}
	if t.After(f.LastSeen) {
		f.LastSeen = t.UTC()
	}
	if detail != "" && !slices.Contains(fs.details, detail) && len(fs.details) < maxDetails {
		fs.details = append(fs.details, detail)
	}
	if len(f.Evidence) < maxEvidence && (ref.Flow == "" || !slices.ContainsFunc(f.Evidence, func(x event.Reference) bool { return x.Flow == ref.Flow })) {
		ref.Time = ref.Time.UTC()
		f.Evidence = append(f.Evidence, ref)
	}
	fs.dirty = true
	if f.Count == 1 {
		e.emitFinding(fs, t)
		return
	}
	if !fs.queued {
		fs.queued = true
		e.changed = append(e.changed, fs)
	}
}

type findingKey struct {
	rule, kind string
	ip         netip.Addr
	port       uint16
	proto      string
}

func (e *Engine) emitFinding(fs *findingState, now time.Time) {
	f := fs.f
	f.Detail = strings.Join(fs.details, "; ")
	r := e.cur.byID[f.Rule]
	if r != nil {
		vars := func(name string) string {
			switch name {
			case "proto":
				return f.Proto
			case "endpoint":
				if f.Endpoint.Port != 0 {
					return netip.AddrPortFrom(f.Endpoint.IP, f.Endpoint.Port).String()
				}
				return f.Endpoint.IP.String()
			case "kind":
				return f.Kind
			case "detail":
				return f.Detail
			case "rule":
				return f.Rule
			}
			return ""
		}
		f.Title = r.titleT.render(vars)
		f.Severity = r.severity
		f.Remediation = r.remediation
		f.Tags = slices.Clone(r.tags)
	}
	f.Evidence = slices.Clone(f.Evidence)
	fs.dirty = false
	fs.lastEmit = now
	fs.f.Title = f.Title
	e.stats.FindingsEmitted++
	e.sink.Finding(&f)
}
