package detect

import (
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/detect/indicator"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	httpproto "github.com/heir-emd/heir/internal/proto/http"
	"github.com/heir-emd/heir/internal/taxonomy"
)

func (e *Engine) matches(what string) bool {
	r := e.cur.indicator
	if r == nil {
		return false
	}
	for _, m := range r.params.strs("match") {
		if m == what {
			return true
		}
	}
	return false
}

// indicatorFlow matches a new flow's addresses: an alert names the client
// as source and the server as target, whichever is listed.
func (e *Engine) indicatorFlow(c *proto.Conn, t time.Time) {
	if !e.matches("flow") {
		return
	}
	ind := e.ind.MatchIP(c.Server.IP, t)
	listed := "server"
	if ind == nil {
		if ind = e.ind.MatchIP(c.Client.IP, t); ind == nil {
			return
		}
		listed = "client"
	}
	e.indicatorIncident(ind, c.Client, c.Server, true, t, func(inc *incident) {
		inc.addCount("flows", 1)
		inc.addSample("seen_in", "flow ("+listed+" listed)")
		if inc.nEv < maxEvidence {
			inc.addEvidence(event.Reference{Flow: c.ID, Time: t, What: "flow-start"})
		}
	})
}

// indicatorObserve matches names and certificates in messages: DNS
// questions, TLS server names and certificates, HTTP Host headers.
func (e *Engine) indicatorObserve(o *event.Observation, c *evctx) {
	if e.ind.Len() == 0 || e.cur.indicator == nil {
		return
	}
	var names []string
	what := ""
	client, server := o.Src, o.Dst
	if o.Dir == event.ToClient {
		client, server = o.Dst, o.Src
	}
	switch {
	case o.Proto == "dns" && (o.Kind == "query" || o.Kind == "response") && e.matches("dns"):
		if v := e.ig.dnsName(c); v.k == vStr {
			names, what = append(names, v.s), "dns"
		}
	case o.Proto == "tls" && o.Kind == "client-hello" && e.matches("sni"):
		if v := e.ig.sni(c); v.k == vStr {
			names, what = append(names, v.s), "tls-sni"
		}
	case o.Proto == "http" && o.Kind == "request" && e.matches("http-host"):
		if d, ok := o.Detail.(*httpproto.Request); ok && d.Host != "" {
			h := d.Host
			if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
				h = h[:i]
			}
			names, what = append(names, h), "http-host"
		}
	case o.Proto == "tls" && o.Kind == "certificate" && e.matches("cert"):
		v := e.ig.certSHA1(c)
		for i, fp := range asList(v) {
			if fp.k != vStr {
				continue
			}
			ind := e.ind.MatchCert(fp.s, o.Time)
			if ind == nil {
				continue
			}
			e.indicatorIncident(ind, client, server, true, o.Time, func(inc *incident) {
				inc.addCount("lookups", 1)
				where := "tls-certificate"
				if i > 0 {
					where = "tls-certificate-chain"
				}
				inc.addSample("seen_in", where)
				if inc.nEv < maxEvidence {
					inc.addEvidence(event.Reference{Flow: o.Flow, Frame: o.Frame, Time: o.Time, What: "tls/certificate"})
				}
			})
			// The server presents it: a standing finding on the server.
			if r := e.cur.indicatorCert; r != nil {
				detail := "presents certificate " + ind.Value + " listed by " + ind.Source
				if ind.Description != "" {
					detail += " (" + ind.Description + ")"
				}
				e.upsertFinding(r, "blocklisted-certificate", event.Endpoint{IP: server.IP, Port: server.Port, MAC: server.MAC},
					o.Proto, detail, event.Reference{Flow: o.Flow, Frame: o.Frame, Time: o.Time, What: "tls/certificate"}, o.Time)
			}
		}
		return
	default:
		return
	}
	for _, n := range names {
		ind := e.ind.MatchDomain(n, o.Time)
		if ind == nil {
			continue
		}
		e.indicatorIncident(ind, client, server, false, o.Time, func(inc *incident) {
			inc.addCount("lookups", 1)
			inc.addSample("seen_in", what)
			inc.addSample("name", n)
			if inc.nEv < maxEvidence {
				inc.addEvidence(event.Reference{Flow: o.Flow, Frame: o.Frame, Time: o.Time, What: o.Proto + "/" + o.Kind})
			}
		})
	}
}

// indicatorGetters are the detail fields the indicator detector reads.
type indicatorGetters struct {
	dnsName, sni, certSHA1 getter
}

func newIndicatorGetters() indicatorGetters {
	g := func(p string) getter { f, _ := compileField(OnObservation, p); return f }
	return indicatorGetters{g("detail.name"), g("detail.sni"), g("detail.certificates.sha1")}
}

// indicatorIncident returns the (open) alert for a device's contact with
// one listed value.
// fill adds the event's counts, samples and evidence before the alert is
// first emitted.
func (e *Engine) indicatorIncident(ind *indicator.Indicator, client, server event.Endpoint, withPort bool, t time.Time, fill func(inc *incident)) {
	r := e.cur.indicator
	key := client.IP.String() + "|" + string(ind.Type) + ":" + ind.Value
	inc := e.keyedIncident(r, key, t, event.Endpoint{IP: client.IP, MAC: client.MAC})
	first := !inc.Open()
	inc.hit(t)
	tgt := event.Endpoint{IP: server.IP, MAC: server.MAC}
	if withPort {
		tgt.Port = server.Port
	}
	inc.addTarget(tgt)
	fill(inc)
	if first {
		inc.addSample("indicator", ind.Value)
		inc.addSample("type", string(ind.Type))
		if ind.Description != "" {
			inc.addSample("listing", ind.Description)
		}
		inc.addSample("source", ind.Source)
		if mining(ind) {
			cat := taxonomy.New()
			for _, x := range [][3]string{{taxonomy.ENISA, "13", "the listed peer is a cryptocurrency mining host"},
				{taxonomy.ATTACK, "T1496", "resource hijacking for mining"}} {
				if tag, err := cat.Tag(x[0], x[1], x[2]); err == nil {
					inc.addTag(tag)
				}
			}
		}
		e.openKeyed(inc)
	}
}

// mining says whether an indicator names mining infrastructure.
func mining(ind *indicator.Indicator) bool {
	text := strings.ToLower(ind.Description + " " + strings.Join(ind.Labels, " "))
	for _, w := range []string{"mining", "miner", "cryptojack", "coinhive", "monero", "xmrig"} {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}
