package detect

import (
	"github.com/heir-emd/heir/internal/event"
	httpproto "github.com/heir-emd/heir/internal/proto/http"
)

// webObserve turns the inspector's verdicts on a request (attached by the
// HTTP dissector) into alerts: one per rule, client and server.
func (e *Engine) webObserve(o *event.Observation) {
	if o.Kind != "request" || len(e.cur.web) == 0 {
		return
	}
	d, ok := o.Detail.(*httpproto.Request)
	if !ok || len(d.Attacks) == 0 {
		return
	}
	seen := map[*rule]*incident{}
	for _, a := range d.Attacks {
		r := e.cur.web[a.Class]
		if r == nil {
			continue
		}
		inc := seen[r]
		if inc == nil {
			inc = e.keyedIncident(r, o.Src.IP.String()+"|"+o.Dst.IP.String(), o.Time, event.Endpoint{IP: o.Src.IP, MAC: o.Src.MAC})
			seen[r] = inc
			inc.hit(o.Time)
			inc.addCount("requests", 1)
			inc.addTarget(event.Endpoint{IP: o.Dst.IP, Port: o.Dst.Port, MAC: o.Dst.MAC})
			if inc.nEv < maxEvidence {
				inc.addEvidence(event.Reference{Flow: o.Flow, Frame: o.Frame, Time: o.Time, What: "http/request"})
			}
		}
		inc.proto = "http"
		inc.addSample("class", a.Class)
		inc.addSample("patterns", a.Rule)
		inc.addSample("where", a.Where)
		if a.Param != "" {
			inc.addSample("params", a.Param)
		}
	}
	for _, inc := range seen {
		if !inc.Open() {
			e.openKeyed(inc)
		}
	}
}
