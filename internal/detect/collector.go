package detect

import (
	"cmp"
	"slices"
	"sync"

	"github.com/heir-emd/heir/internal/event"
)

// Collector is a Sink that keeps the latest version of every alert and
// finding (by ID), for reports at the end of an analysis. It is safe for
// concurrent use.
type Collector struct {
	mu       sync.Mutex
	alerts   map[string]*event.Alert
	findings map[string]*event.Finding
	updates  int
}

// NewCollector returns an empty collector.
func NewCollector() *Collector {
	return &Collector{alerts: map[string]*event.Alert{}, findings: map[string]*event.Finding{}}
}

// Alert implements Sink.
func (c *Collector) Alert(a *event.Alert) {
	c.mu.Lock()
	c.alerts[a.ID] = a
	c.updates++
	c.mu.Unlock()
}

// Finding implements Sink.
func (c *Collector) Finding(f *event.Finding) {
	c.mu.Lock()
	c.findings[f.ID] = f
	c.mu.Unlock()
}

// Alerts returns the alerts in order of start time (then rule and id).
func (c *Collector) Alerts() []event.Alert {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]event.Alert, 0, len(c.alerts))
	for _, a := range c.alerts {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b event.Alert) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Findings returns the findings by severity (most severe first), then
// endpoint and rule.
func (c *Collector) Findings() []event.Finding {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]event.Finding, 0, len(c.findings))
	for _, f := range c.findings {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b event.Finding) int {
		return cmp.Or(cmp.Compare(SeverityRank(b.Severity), SeverityRank(a.Severity)),
			a.Endpoint.IP.Compare(b.Endpoint.IP), cmp.Compare(a.Endpoint.Port, b.Endpoint.Port),
			cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// SeverityRank orders severities: low 1 … critical 4, unknown 0.
func SeverityRank(s string) int {
	switch s {
	case event.SeverityLow:
		return 1
	case event.SeverityMedium:
		return 2
	case event.SeverityHigh:
		return 3
	case event.SeverityCritical:
		return 4
	}
	return 0
}
