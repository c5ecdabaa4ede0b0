package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NodeStats is what the node reports about its event pipeline; /metrics
// reads it at each scrape, so it must be cheap and safe for concurrent
// use.
type NodeStats interface {
	NodeStats() NodeSnapshot
}

// NodeSnapshot is the pipeline's counters at one moment.
type NodeSnapshot struct {
	// EventsIn counts events received from the bus, by record type
	// ("flow", "alert", …); EventsDropped counts those refused or lost,
	// by reason ("malformed", "queue-full", …). Both only grow.
	EventsIn      map[string]uint64
	EventsDropped map[string]uint64
	// QueueDepth is the number of events waiting to be stored.
	QueueDepth int
}

// MetricsOptions configure NewMetrics.
type MetricsOptions struct {
	// Node reports the event pipeline (nil: those series are absent).
	Node NodeStats
	// Collectors are added to the registry (the bus's, the store's).
	Collectors []prometheus.Collector
}

// Metrics is the node's Prometheus registry (its own, not the global
// one) with the server's series. ObserveScoring is for the scorer.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.HistogramVec
	streamConns  *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	loginLimited prometheus.Counter
	csrfRefused  prometheus.Counter
	scoring      prometheus.Histogram
}

// NewMetrics makes the registry: request latency per route, sign-in
// failures, live-stream clients, scoring time, the node's pipeline
// counters, and the Go runtime's and process's collectors.
func NewMetrics(o MetricsOptions) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "heir", Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to answer API requests, by route (method and pattern) and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "code"})
	m.streamConns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "heir", Subsystem: "http", Name: "stream_connections_total",
		Help: "Live stream connections, by how they ended (open ones count as started).",
	}, []string{"event"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "heir", Subsystem: "auth", Name: "failures_total",
		Help: "Refused credentials, by kind (password, token, oidc).",
	}, []string{"kind"})
	m.loginLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "heir", Subsystem: "auth", Name: "login_rate_limited_total",
		Help: "Sign-in attempts refused by the rate limits.",
	})
	m.csrfRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "heir", Subsystem: "auth", Name: "csrf_refused_total",
		Help: "Cookie-authenticated requests refused for a missing or wrong CSRF token or a foreign origin.",
	})
	m.scoring = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "heir", Subsystem: "rama", Name: "scoring_duration_seconds",
		Help:    "Time to score the hospital (one scoring run).",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	})
	m.reg.MustRegister(m.requests, m.streamConns, m.authFailures, m.loginLimited, m.csrfRefused, m.scoring,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.Node != nil {
		m.reg.MustRegister(&nodeCollector{node: o.Node})
	}
	for _, c := range o.Collectors {
		m.reg.MustRegister(c)
	}
	return m
}

// Registry is the registry (to add collectors after New).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveScoring records one scoring run's duration.
func (m *Metrics) ObserveScoring(d time.Duration) { m.scoring.Observe(d.Seconds()) }

func (m *Metrics) observeRequest(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Observe(d.Seconds())
}

// watchBroadcaster exports the broadcaster's counters.
func (m *Metrics) watchBroadcaster(b *Broadcaster) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "heir", Subsystem: "alerts", Name: "stream_clients",
			Help: "Clients connected to the live alert stream."}, func() float64 { return float64(b.Stats().Clients) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "heir", Subsystem: "alerts", Name: "published_total",
			Help: "Alerts published to the live stream."}, func() float64 { return float64(b.Stats().Published) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "heir", Subsystem: "alerts", Name: "stream_slow_clients_dropped_total",
			Help: "Live-stream clients disconnected because their buffer was full."}, func() float64 { return float64(b.Stats().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "heir", Subsystem: "alerts", Name: "stream_refused_total",
			Help: "Live-stream connections refused because the client limit was reached."}, func() float64 { return float64(b.Stats().Refused) }),
	)
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// nodeCollector reads NodeStats at scrape time.
type nodeCollector struct{ node NodeStats }

var (
	descEventsIn = prometheus.NewDesc("heir_node_events_in_total",
		"Events received from the bus, by record type.", []string{"type"}, nil)
	descEventsDropped = prometheus.NewDesc("heir_node_events_dropped_total",
		"Events refused or lost, by reason.", []string{"reason"}, nil)
	descQueueDepth = prometheus.NewDesc("heir_node_queue_depth",
		"Events waiting to be stored.", nil, nil)
)

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descEventsIn
	ch <- descEventsDropped
	ch <- descQueueDepth
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.node.NodeStats()
	for k, v := range s.EventsIn {
		ch <- prometheus.MustNewConstMetric(descEventsIn, prometheus.CounterValue, float64(v), k)
	}
	for k, v := range s.EventsDropped {
		ch <- prometheus.MustNewConstMetric(descEventsDropped, prometheus.CounterValue, float64(v), k)
	}
	ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(s.QueueDepth))
}
