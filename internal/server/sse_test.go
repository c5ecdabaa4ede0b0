package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heir-emd/heir/internal/event"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stream opens the live stream and returns a reader of its events.
func openStream(t *testing.T, base, token, query string) (*http.Response, *bufio.Reader, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/alerts/stream"+query, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return resp, bufio.NewReader(resp.Body), cancel
}

// nextEvent reads up to the next event (skipping comments and retry).
func nextEvent(t *testing.T, br *bufio.Reader) (name, data string) {
	t.Helper()
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			name = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		case line == "" && name != "":
			return name, data
		}
	}
}

func TestAlertStream(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	b := NewBroadcaster(BroadcasterOptions{Buffer: 8, MaxClients: 2})
	e := newEnv(t, func(o *Options) { o.Alerts = b })

	resp, br, cancel := openStream(t, e.ts.URL, e.tokens["viewer"], "?severity=high,critical")
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("stream: %d %v", resp.StatusCode, resp.Header)
	}
	waitFor(t, "the client to subscribe", func() bool { return b.Stats().Clients == 1 })
	low := event.Alert{V: 1, Type: event.TypeAlert, ID: "alr-low", Severity: event.SeverityLow, Category: "anomaly", Start: t0, End: t0}
	high := event.Alert{V: 1, Type: event.TypeAlert, ID: "alr-high", Rule: "brute-force", Severity: event.SeverityHigh, Category: "credential-access",
		Source: ep("10.9.0.1", 0), Targets: []event.Endpoint{ep("10.1.0.1", 22)}, Start: t0, End: t0, Count: 23}
	b.Publish(low) // filtered out
	b.Publish(high)
	name, data := nextEvent(t, br)
	var got event.Alert
	if err := json.Unmarshal([]byte(data), &got); err != nil || name != "alert" {
		t.Fatalf("event %q %q: %v", name, data, err)
	}
	if got.ID != "alr-high" || got.Count != 23 || got.Targets[0].Port != 22 {
		t.Fatalf("alert %+v", got)
	}
	// An updated incident is sent again.
	high.Count = 40
	b.PublishAlert(&high)
	b.PublishAlert(nil)
	if _, data := nextEvent(t, br); !strings.Contains(data, `"count":40`) {
		t.Fatalf("update %s", data)
	}

	// The client limit: a third stream is refused while two are open.
	resp2, _, cancel2 := openStream(t, e.ts.URL, e.tokens["analyst"], "")
	waitFor(t, "the second client", func() bool { return b.Stats().Clients == 2 })
	r3, _ := e.do(req{method: "GET", path: "/api/v1/alerts/stream", as: "auditor"})
	if r3.StatusCode != http.StatusServiceUnavailable || r3.Header.Get("Retry-After") == "" {
		t.Fatalf("third client: %d", r3.StatusCode)
	}
	if b.Stats().Refused != 1 {
		t.Fatalf("refused %d", b.Stats().Refused)
	}
	// A client that goes away is unsubscribed.
	cancel2()
	resp2.Body.Close()
	waitFor(t, "the second client to leave", func() bool { return b.Stats().Clients == 1 })
	cancel()
	resp.Body.Close()
	waitFor(t, "every client to leave", func() bool { return b.Stats().Clients == 0 })
}

// TestBroadcasterDropsSlowClients: a full queue disconnects that client
// only; the publisher never waits and the others keep their alerts.
func TestBroadcasterDropsSlowClients(t *testing.T) {
	b := NewBroadcaster(BroadcasterOptions{Buffer: 4, MaxClients: 10})
	slow, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := b.Subscribe()
	got := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range fast.C() {
			got++
		}
	}()
	start := time.Now()
	for i := range 100 {
		b.Publish(event.Alert{ID: string(rune('a' + i%26))})
		if i%4 == 3 {
			// Let the fast reader keep up; the slow one never reads.
			waitFor(t, "the fast client", func() bool { return len(fast.c) == 0 })
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("publishing waited for a client")
	}
	if !slow.Dropped() || fast.Dropped() {
		t.Fatalf("dropped: slow %v fast %v", slow.Dropped(), fast.Dropped())
	}
	n := 0
	for range slow.C() {
		n++
	}
	if n != 4 {
		t.Fatalf("the slow client kept %d alerts, want its buffer of 4", n)
	}
	st := b.Stats()
	if st.Dropped != 1 || st.Clients != 1 || st.Published != 100 {
		t.Fatalf("stats %+v", st)
	}
	fast.Close()
	fast.Close()
	<-done
	if got != 100 {
		t.Fatalf("fast client got %d", got)
	}
}

// TestServeShutdown: cancelling Run's context ends live streams at once
// and returns; nothing is left running.
func TestServeShutdown(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.srv.Serve(ctx, ln) }()
	resp, br, cancelStream := openStream(t, "http://"+ln.Addr().String(), e.tokens["viewer"], "")
	defer cancelStream()
	if resp.StatusCode != 200 {
		t.Fatalf("stream %d", resp.StatusCode)
	}
	waitFor(t, "the stream", func() bool { return e.srv.Broadcaster().Stats().Clients == 1 })
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Serve did not return")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %s", d)
	}
	// The stream ended.
	for {
		if _, err := br.ReadString('\n'); err != nil {
			break
		}
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
}
