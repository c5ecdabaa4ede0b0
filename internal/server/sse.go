package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// BroadcasterOptions bound the live alert stream.
type BroadcasterOptions struct {
	// Buffer is each client's queue (default 256 alerts). A client whose
	// queue is full when an alert comes is disconnected and counted: a
	// slow client must never hold up the node or the other clients.
	Buffer int
	// MaxClients bounds the connected clients (default 64); past it new
	// streams are refused with 503.
	MaxClients int
}

// Broadcaster fans alerts out to live-stream clients. The node publishes
// every new or updated alert; Publish never blocks. Safe for concurrent
// use.
type Broadcaster struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	buffer int
	max    int

	published, dropped, refused atomic.Uint64
}

// ErrTooManyClients is Subscribe's answer when MaxClients are connected.
var ErrTooManyClients = errors.New("too many live-stream clients")

// NewBroadcaster returns an empty broadcaster.
func NewBroadcaster(o BroadcasterOptions) *Broadcaster {
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 64
	}
	return &Broadcaster{subs: map[*Subscription]struct{}{}, buffer: o.Buffer, max: o.MaxClients}
}

// Subscription is one client's queue.
type Subscription struct {
	b       *Broadcaster
	c       chan event.Alert
	dropped atomic.Bool
}

// Subscribe adds a client.
func (b *Broadcaster) Subscribe() (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) >= b.max {
		b.refused.Add(1)
		return nil, ErrTooManyClients
	}
	s := &Subscription{b: b, c: make(chan event.Alert, b.buffer)}
	b.subs[s] = struct{}{}
	return s, nil
}

// C delivers the alerts; it is closed when the subscription ends (Close,
// or the client fell behind: then Dropped is true).
func (s *Subscription) C() <-chan event.Alert { return s.c }

// Dropped says whether the broadcaster ended the subscription because
// its queue was full.
func (s *Subscription) Dropped() bool { return s.dropped.Load() }

// Close ends the subscription; closing twice is harmless.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.b.subs[s]; ok {
		delete(s.b.subs, s)
		close(s.c)
	}
}

// Publish hands a to every client without waiting: a client whose queue
// is full is dropped (its channel closed) and counted.
func (b *Broadcaster) Publish(a event.Alert) {
	b.published.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.c <- a:
		default:
			s.dropped.Store(true)
			delete(b.subs, s)
			close(s.c)
			b.dropped.Add(1)
		}
	}
}

// PublishAlert is Publish under the name and signature the node's ingest
// path uses (node.AlertPublisher). The alert is copied into the queues;
// the caller must not change its maps or slices afterwards.
func (b *Broadcaster) PublishAlert(a *event.Alert) {
	if a != nil {
		b.Publish(*a)
	}
}

// BroadcastStats are the broadcaster's counters.
type BroadcastStats struct {
	Clients                     int
	Published, Dropped, Refused uint64
}

// Stats reads the counters.
func (b *Broadcaster) Stats() BroadcastStats {
	b.mu.Lock()
	n := len(b.subs)
	b.mu.Unlock()
	return BroadcastStats{Clients: n, Published: b.published.Load(), Dropped: b.dropped.Load(), Refused: b.refused.Load()}
}

// Stream timing.
const (
	streamHeartbeat    = 20 * time.Second // keeps proxies from closing an idle stream
	streamWriteTimeout = 10 * time.Second // a client that takes longer to take one event is gone
)

// alertStream relays live alerts as Server-Sent Events: "event: alert"
// with the alert's JSON as data, a comment line as heartbeat, and a last
// "event: dropped" when the client fell too far behind (it should reload
// the list and reconnect).
func (s *Server) alertStream(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	severities := p.list("severity", validSeverity)
	categories := p.list("category", nil)
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	sub, err := s.alerts.Subscribe()
	if err != nil {
		prob := probUnavailable.with(r, "the live stream has as many clients as it serves; try again later")
		prob.RetryAfter = 30
		writeProblem(w, prob)
		return
	}
	defer sub.Close()
	s.metrics.streamConns.WithLabelValues("started").Inc()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(msg string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := fmt.Fprint(w, msg); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: 5000\n: heir live alerts\n\n") {
		return
	}
	tick := time.NewTicker(streamHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			s.metrics.streamConns.WithLabelValues("closed").Inc()
			return
		case <-tick.C:
			if !write(": ping\n\n") {
				s.metrics.streamConns.WithLabelValues("write-failed").Inc()
				return
			}
		case a, ok := <-sub.C():
			if !ok {
				s.metrics.streamConns.WithLabelValues("dropped").Inc()
				write("event: dropped\ndata: {\"reason\":\"the client fell behind; reload the alert list and reconnect\"}\n\n")
				return
			}
			if len(severities) > 0 && !slices.Contains(severities, a.Severity) || len(categories) > 0 && !slices.Contains(categories, a.Category) {
				continue
			}
			b, err := json.Marshal(a)
			if err != nil {
				continue // an alert that cannot encode is not sent (it is in the store)
			}
			if !write("event: alert\ndata: " + string(b) + "\n\n") {
				s.metrics.streamConns.WithLabelValues("write-failed").Inc()
				return
			}
		}
	}
}
