package bus

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/heir-emd/heir/internal/event"
)

func TestEventIDIsContentHash(t *testing.T) {
	// Computed outside Go:
	// printf 'heir-event-v1\0icu3\0flow\0{"v":1,"type":"flow","id":"9c1f0e5b7a2d4c61"}' | sha256sum | cut -c1-32
	const want = "be483bb710fdda176081f3d603fa193f"
	if got := EventID("icu3", "flow", []byte(`{"v":1,"type":"flow","id":"9c1f0e5b7a2d4c61"}`)); got != want {
		t.Fatalf("EventID = %s, want %s", got, want)
	}
	if EventID("icu4", "flow", []byte(`{}`)) == EventID("icu3", "flow", []byte(`{}`)) {
		t.Fatal("two sensors' identical records share an id")
	}
}

func TestEnvelopeEncodingDecodes(t *testing.T) {
	data, _ := json.Marshal(testFlow(7))
	ts := time.Date(2026, 11, 28, 15, 43, 40, 123456789, time.FixedZone("x", 3600))
	id := EventID("icu3", "flow", data)
	b := appendEnvelope(nil, id, "icu3", 42, "flow", ts, data)
	env, err := DecodeEnvelope("heir", "heir.icu3.flow", b)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
	want := Envelope{V: 1, ID: id, Sensor: "icu3", Seq: 42, Type: "flow", Time: ts.UTC(), Data: data}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("decoded %+v\nwant %+v", env, want)
	}
	rec, err := env.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec, testFlow(7)) {
		t.Fatalf("record %+v", rec)
	}
	// The same bytes are what docs/bus.md shows (its field order).
	if !strings.HasPrefix(string(b), `{"v":1,"id":"`+id+`","sensor":"icu3","seq":42,"type":"flow","time":"2026-11-28T14:43:40.123456789Z","data":{"v":1,`) {
		t.Fatalf("envelope text %s", b)
	}
}

func TestDecodeEnvelopeRefuses(t *testing.T) {
	data := []byte(`{"v":1,"type":"flow"}`)
	good := func() Envelope {
		return Envelope{V: 1, ID: EventID("a", "flow", data), Sensor: "a", Seq: 1, Type: "flow", Time: time.Now(), Data: data}
	}
	enc := func(e Envelope) []byte { b, _ := json.Marshal(e); return b }
	cases := []struct {
		name    string
		subject string
		msg     []byte
		want    error
	}{
		{"other sensor's subject", "heir.b.flow", enc(good()), ErrSpoofed},
		{"other type's subject", "heir.a.alert", enc(good()), ErrSpoofed},
		{"other prefix", "hier.a.flow", enc(good()), ErrSpoofed},
		{"altered data", "heir.a.flow", enc(func() Envelope { e := good(); e.Data = []byte(`{"v":1,"type":"flow","x":1}`); return e }()), ErrMalformed},
		{"version", "heir.a.flow", enc(func() Envelope { e := good(); e.V = 2; return e }()), ErrMalformed},
		{"unknown type", "heir.a.thing", enc(func() Envelope { e := good(); e.Type = "thing"; return e }()), ErrMalformed},
		{"bad sensor", "heir.A.flow", enc(func() Envelope { e := good(); e.Sensor = "A"; return e }()), ErrMalformed},
		{"no seq", "heir.a.flow", enc(func() Envelope { e := good(); e.Seq = 0; return e }()), ErrMalformed},
		{"array data", "heir.a.flow", enc(func() Envelope { e := good(); e.Data = []byte(`[1]`); return e }()), ErrMalformed},
		{"trailing", "heir.a.flow", append(enc(good()), []byte(` {}`)...), ErrMalformed},
		{"not json", "heir.a.flow", []byte(`hello`), ErrMalformed},
	}
	if _, err := DecodeEnvelope("heir", "heir.a.flow", enc(good())); err != nil {
		t.Fatalf("good envelope refused: %v", err)
	}
	for _, c := range cases {
		if _, err := DecodeEnvelope("heir", c.subject, c.msg); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func TestSensorNames(t *testing.T) {
	for _, ok := range []string{"a", "icu3", "ward-7-east", strings.Repeat("x", 64)} {
		if err := ValidSensorName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "ICU", "a.b", "a*", "a>", "a b", "é", strings.Repeat("x", 65)} {
		if ValidSensorName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRegistryIssuesAndRevokes(t *testing.T) {
	dir := t.TempDir()
	reg := NewRegistry(filepath.Join(dir, "sensors.json"))
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	c, err := reg.Add("icu3", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Add("icu3", now); !errors.Is(err, ErrSensorExists) {
		t.Fatalf("second add: %v", err)
	}
	c.URLs = []string{"tls://node.example:4222"}
	path := filepath.Join(dir, "icu3.creds")
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(path); err == nil {
		t.Fatal("credentials file overwritten")
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials mode %v", fi.Mode().Perm())
	}
	got, err := ReadCredentials(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Sensor != "icu3" || got.Seed != c.Seed || got.URLs[0] != "tls://node.example:4222" {
		t.Fatalf("read back %+v", got)
	}
	if _, err := ReadCredentials(path, "icu4"); err == nil {
		t.Fatal("credentials accepted for another sensor name")
	}
	pub, _ := got.PublicKey()
	list, _ := reg.List()
	if len(list) != 1 || list[0].NKey != pub || !list[0].Active() {
		t.Fatalf("registry %+v, key %s", list, pub)
	}
	raw, _ := os.ReadFile(reg.Path())
	if strings.Contains(string(raw), c.Seed) || strings.Contains(string(raw), "seed") {
		t.Fatal("the registry holds the sensor's secret")
	}
	if err := reg.Revoke("icu3", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := reg.Revoke("nope", now); !errors.Is(err, ErrNoSensor) {
		t.Fatalf("revoking an unknown sensor: %v", err)
	}
	list, _ = reg.List()
	if list[0].Active() || !list[0].Revoked.Equal(now.Add(time.Hour)) {
		t.Fatalf("after revoke %+v", list[0])
	}
	c2, err := reg.Add("icu3", now.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("re-issue after revoke: %v", err)
	}
	if c2.Seed == c.Seed {
		t.Fatal("re-issued credentials reuse the revoked key")
	}
	// A credentials file others can read is refused.
	os.Chmod(path, 0o644)
	if _, err := ReadCredentials(path, ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable credentials: %v", err)
	}
	// The log value has no secret.
	if s := fmt.Sprint(c.LogValue()); strings.Contains(s, c.Seed) {
		t.Fatal("log value shows the seed")
	}
}

func TestEndToEndEmbedded(t *testing.T) {
	n := startNode(t, nodeOpts{})
	defer n.stop(t)
	creds := n.addSensor(t, "icu3")
	p, stop := runPublisher(t, PublisherConfig{Creds: creds, SpoolDir: t.TempDir()})
	const total = 600
	want := map[string]string{} // id -> record JSON
	for i := range total {
		var typ string
		var rec any
		switch i % 3 {
		case 0:
			typ, rec = event.TypeFlow, testFlow(i)
		case 1:
			typ, rec = event.TypeObservation, &event.Observation{V: 1, Type: event.TypeObservation, Time: time.Unix(int64(i), 0).UTC(),
				Flow: "f", Frame: uint64(i), Transport: "tcp", Proto: "hl7", Kind: "message",
				Weaknesses: []event.Weakness{{Kind: event.WeakCleartextPHI, About: event.AboutSrc, Detail: "PID"}}}
		default:
			typ, rec = event.TypeAlert, &event.Alert{V: 1, Type: event.TypeAlert, ID: "a1", Rule: "scan", Title: "scan", Severity: "high",
				Start: time.Unix(0, 0).UTC(), End: time.Unix(int64(i), 0).UTC(), Count: uint64(i), Counts: map[string]uint64{"syn": uint64(i)}}
		}
		data, _ := json.Marshal(rec)
		want[EventID("icu3", typ, data)] = string(data)
		if err := p.Publish(typ, rec); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "all stored", func() bool { return n.store.count(t) == total })
	stop()
	rows := storedRows(t, n.store.db)
	for i, r := range rows {
		if want[r.id] != r.data {
			t.Fatalf("row %d (%s) data differs from what was published", i, r.id)
		}
		if r.sensor != "icu3" || r.seq != uint64(i+1) {
			t.Fatalf("row %d: sensor %s seq %d: want icu3, %d (in order)", i, r.sensor, r.seq, i+1)
		}
	}
	st := p.Stats()
	if st.EventsIn != total || st.Spooled != total || st.Published != total || st.SpoolPending != 0 ||
		st.DroppedQueueFull+st.DroppedSpoolFull+st.DroppedTooLarge+st.DroppedSpoolError != 0 {
		t.Fatalf("publisher stats %+v", st)
	}
	if cs := n.cons.Stats(); cs.Stored < total || cs.Rejected != 0 {
		t.Fatalf("consumer stats %+v", cs)
	}
}

// TestTwoSensorsEmbedded: two sensors, each with its own credentials,
// publish at once to the embedded server.
func TestTwoSensorsEmbedded(t *testing.T) {
	n := startNode(t, nodeOpts{})
	defer n.stop(t)
	creds := map[string]*Credentials{"ward-a": n.addSensor(t, "ward-a"), "ward-b": n.addSensor(t, "ward-b")}
	twoSensors(t, n.store, func(name string) PublisherConfig {
		return PublisherConfig{Creds: creds[name], SpoolDir: t.TempDir()}
	})
}

// TestSpoolsWhileNodeDown: events published while the node is down stay in
// the sensor's spool and arrive, in order, once it is back.
func TestSpoolsWhileNodeDown(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	// A first run creates the stream and the sensor, then the node stops.
	n := startNode(t, nodeOpts{dir: dir, listen: addr})
	creds := n.addSensor(t, "ward7")
	waitFor(t, 5*time.Second, "stream", func() bool {
		_, err := jsStream(n.nc, DefaultStream)
		return err == nil
	})
	n.stop(t)

	spoolDir := t.TempDir()
	p, stop := runPublisher(t, PublisherConfig{Creds: creds, SpoolDir: spoolDir})
	const total = 1500
	for i := range total {
		if err := p.Publish(event.TypeFlow, testFlow(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "spooled", func() bool { return p.Stats().Spooled == total })
	if st := p.Stats(); st.Published != 0 || st.Connected || st.SpoolPending != total {
		t.Fatalf("node down, stats %+v", st)
	}
	segs, _ := filepath.Glob(filepath.Join(spoolDir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no spool segment on disk")
	}

	n = startNode(t, nodeOpts{dir: dir, listen: addr})
	defer n.stop(t)
	waitFor(t, 20*time.Second, "replayed", func() bool { return n.store.count(t) == total })
	waitFor(t, 5*time.Second, "spool emptied", func() bool { return p.Stats().SpoolPending == 0 })
	stop()
	for i, r := range storedRows(t, n.store.db) {
		if r.seq != uint64(i+1) {
			t.Fatalf("row %d has seq %d: replay out of order", i, r.seq)
		}
		var f event.Flow
		json.Unmarshal([]byte(r.data), &f)
		if f.ID != testFlow(i).ID {
			t.Fatalf("row %d is flow %s, want %s", i, f.ID, testFlow(i).ID)
		}
	}
	if st := p.Stats(); st.Reconnects+1 < 1 || st.Published != total {
		t.Fatalf("stats %+v", st)
	}
}

func jsStream(nc *nats.Conn, name string) (any, error) {
	m, err := nc.Request("$JS.API.STREAM.INFO."+name, nil, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if strings.Contains(string(m.Data), `"error"`) {
		return nil, errors.New(string(m.Data))
	}
	return m, nil
}

// TestSpoolFullDropsOldest: with the node down and a small spool, the
// oldest events go, are counted, and the newest arrive.
func TestSpoolFullDropsOldest(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	reg := NewRegistry(filepath.Join(dir, "sensors.json"))
	creds, err := reg.Add("lab", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	creds.URLs = []string{"nats://" + addr}
	p, stop := runPublisher(t, PublisherConfig{Creds: creds, SpoolDir: t.TempDir(),
		SpoolSegmentBytes: 64 << 10, SpoolMaxBytes: 128 << 10})
	const total = 2000
	pad := strings.Repeat("x", 300)
	for i := range total {
		f := testFlow(i)
		f.Proto = pad // about 700 bytes a spool record
		if err := p.Publish(event.TypeFlow, f); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "spooled", func() bool { return p.Stats().Spooled == total })
	st := p.Stats()
	if st.DroppedSpoolFull == 0 || st.DroppedSpoolFull+st.SpoolPending != total || st.SpoolBytes > 128<<10 {
		t.Fatalf("full spool stats %+v", st)
	}
	kept := st.SpoolPending

	n := startNode(t, nodeOpts{dir: dir, listen: addr})
	defer n.stop(t)
	waitFor(t, 20*time.Second, "replayed", func() bool { return uint64(n.store.count(t)) == kept })
	stop()
	// Which events survive is the point, not the order they arrived in:
	// a publish retried after a busy moment may land after later ones.
	rows := storedRows(t, n.store.db)
	lo, hi := rows[0].seq, rows[0].seq
	for _, r := range rows {
		lo, hi = min(lo, r.seq), max(hi, r.seq)
	}
	if lo != total-kept+1 || hi != total || uint64(len(rows)) != kept {
		t.Fatalf("stored %d events with seqs %d..%d, want the newest %d: %d..%d", len(rows), lo, hi, kept, total-kept+1, total)
	}
}

func TestQueueFullDropsNewest(t *testing.T) {
	p, err := NewPublisher(PublisherConfig{Sensor: "s", URLs: []string{"nats://127.0.0.1:1"}, SpoolDir: t.TempDir(), QueueLen: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Not running: nothing drains the queue. Publish must still return at once.
	start := time.Now()
	var full int
	for i := range 15 {
		if err := p.Publish(event.TypeFlow, testFlow(i)); errors.Is(err, ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full != 5 || time.Since(start) > time.Second {
		t.Fatalf("%d refused in %v", full, time.Since(start))
	}
	if st := p.Stats(); st.DroppedQueueFull != 5 || st.EventsIn != 10 || st.QueueDepth != 10 {
		t.Fatalf("stats %+v", st)
	}
	if err := p.Publish(event.TypeFlow, struct{ X chan int }{}); err == nil {
		t.Fatal("unencodable record accepted")
	}
	if err := p.Publish("bogus", testFlow(1)); err == nil {
		t.Fatal("unknown type accepted")
	}
	big := testFlow(1)
	big.Proto = strings.Repeat("p", MaxMessageBytes)
	if err := p.Publish(event.TypeFlow, big); !errors.Is(err, ErrTooLarge) || p.Stats().DroppedTooLarge != 1 {
		t.Fatalf("oversized record: %v", err)
	}
	// Run then spools the queue even when stopped at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Spooled != 10 || st.SpoolPending != 10 {
		t.Fatalf("after run: %+v", st)
	}
}

func TestPermissions(t *testing.T) {
	n := startNode(t, nodeOpts{})
	defer n.stop(t)
	a := n.addSensor(t, "a")
	n.addSensor(t, "b")
	kp, _ := nkeys.FromSeed([]byte(a.Seed))
	pub, _ := kp.PublicKey()
	errs := make(chan error, 16)
	nc, err := nats.Connect(n.srv.URL(), nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(InboxPrefix("a")),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	expectViolation := func(what string) {
		t.Helper()
		select {
		case err := <-errs:
			if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%s was allowed", what)
		}
	}
	// Sensor a impersonating b.
	nc.Publish("heir.b.flow", []byte(`{}`))
	nc.Flush()
	expectViolation("publishing as another sensor")
	// Reading the node's deliveries or other inboxes.
	nc.SubscribeSync("_INBOX.>")
	nc.Flush()
	expectViolation("subscribing to every inbox")
	nc.SubscribeSync("heir.>")
	nc.Flush()
	expectViolation("subscribing to events")
	// The JetStream API (create consumers, read the stream).
	nc.Publish("$JS.API.STREAM.INFO.HEIR_EVENTS", nil)
	nc.Flush()
	expectViolation("using the JetStream API")
	// Its own subject is fine, and its inbox receives the acknowledgement.
	data := []byte(`{"v":1,"type":"flow"}`)
	env := appendEnvelope(nil, EventID("a", "flow", data), "a", 1, "flow", time.Now(), data)
	m, err := nc.Request("heir.a.flow", env, 3*time.Second)
	if err != nil || !strings.Contains(string(m.Data), `"stream":"HEIR_EVENTS"`) {
		t.Fatalf("own subject: %v %s", err, m.Data)
	}
	waitFor(t, 5*time.Second, "stored", func() bool { return n.store.count(t) == 1 })
	if len(storedTwice(t, n.store.db)) != 0 || n.cons.Stats().Rejected != 0 {
		t.Fatal("unexpected")
	}
	// No credentials at all: refused.
	if nc2, err := nats.Connect(n.srv.URL(), nats.MaxReconnects(0)); err == nil {
		nc2.Close()
		t.Fatal("anonymous connection accepted")
	}
}

func TestRevokeDisconnectsAndRefuses(t *testing.T) {
	n := startNode(t, nodeOpts{})
	defer n.stop(t)
	c := n.addSensor(t, "old")
	kp, _ := nkeys.FromSeed([]byte(c.Seed))
	pub, _ := kp.PublicKey()
	closed := make(chan struct{})
	nc, err := nats.Connect(n.srv.URL(), nats.Nkey(pub, kp.Sign), nats.MaxReconnects(0),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A publisher with the same credentials, to see it keep its events.
	p, stop := runPublisher(t, PublisherConfig{Creds: c, SpoolDir: t.TempDir()})
	defer stop()
	waitFor(t, 5*time.Second, "publisher connected", func() bool { return p.Stats().Connected })

	if err := n.registry().Revoke("old", time.Now()); err != nil {
		t.Fatal(err)
	}
	// The running node notices the registry change by itself.
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() { n.srv.Watch(ctx, 50*time.Millisecond); close(watched) }()
	defer func() { cancel(); <-watched }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("revoked sensor still connected")
	}
	if nc2, err := nats.Connect(n.srv.URL(), nats.Nkey(pub, kp.Sign), nats.MaxReconnects(0)); err == nil {
		nc2.Close()
		t.Fatal("revoked credentials accepted for a new connection")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("new connection: %v", err)
	}
	waitFor(t, 5*time.Second, "publisher disconnected", func() bool { return !p.Stats().Connected })
	for i := range 20 {
		if err := p.Publish(event.TypeFlow, testFlow(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "spooled", func() bool { return p.Stats().Spooled == 20 })
	if st := p.Stats(); st.Published != 0 || st.SpoolPending != 20 {
		t.Fatalf("revoked publisher stats %+v", st)
	}
	if n.store.count(t) != 0 {
		t.Fatal("a revoked sensor's event was stored")
	}
}

func TestTLS(t *testing.T) {
	serverTLS, caPEM := testCerts(t)
	n := startNode(t, nodeOpts{tls: serverTLS})
	defer n.stop(t)
	if !strings.HasPrefix(n.srv.URL(), "tls://") {
		t.Fatalf("URL %s", n.srv.URL())
	}
	c := n.addSensor(t, "tls1")
	kp, _ := nkeys.FromSeed([]byte(c.Seed))
	pub, _ := kp.PublicKey()
	// Without the CA the server is not trusted; without TLS it is refused.
	if nc, err := nats.Connect(n.srv.URL(), nats.Nkey(pub, kp.Sign), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("untrusted server certificate accepted")
	}
	plain := strings.Replace(n.srv.URL(), "tls://", "nats://", 1)
	if nc, err := nats.Connect(plain, nats.Nkey(pub, kp.Sign), nats.MaxReconnects(0), nats.Secure(&tls.Config{InsecureSkipVerify: false, ServerName: "wrong.example"})); err == nil {
		nc.Close()
		t.Fatal("certificate for the wrong name accepted")
	}
	c.CA = string(caPEM)
	path := filepath.Join(t.TempDir(), "tls1.creds")
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	c2, err := ReadCredentials(path, "tls1")
	if err != nil {
		t.Fatal(err)
	}
	p, stop := runPublisher(t, PublisherConfig{Creds: c2, SpoolDir: t.TempDir()})
	for i := range 50 {
		p.Publish(event.TypeFlow, testFlow(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	waitFor(t, 5*time.Second, "stored", func() bool { return n.store.count(t) == 50 })
}

func TestConsumerRetriesHandlerFailures(t *testing.T) {
	var failures atomic.Int32
	var target string
	n := startNode(t, nodeOpts{ackWait: 2 * time.Second, failFunc: func(e Envelope) error {
		if e.Seq == 3 && failures.Load() < 3 {
			failures.Add(1)
			target = e.ID
			return errors.New("store unavailable")
		}
		if e.Seq == 5 {
			return Permanent(errors.New("refused"))
		}
		return nil
	}})
	defer n.stop(t)
	c := n.addSensor(t, "r")
	p, stop := runPublisher(t, PublisherConfig{Creds: c, SpoolDir: t.TempDir()})
	for i := range 10 {
		p.Publish(event.TypeFlow, testFlow(i))
	}
	waitFor(t, 15*time.Second, "stored", func() bool { return n.store.count(t) == 9 })
	stop()
	cs := n.cons.Stats()
	// Stored counts handled deliveries: a slow machine may redeliver a
	// buffered envelope after AckWait, which the store then absorbs.
	if failures.Load() != 3 || cs.Retried != 3 || cs.Redelivered < 3 || cs.Rejected != 1 || cs.Stored < 9 {
		t.Fatalf("failures %d, consumer stats %+v", failures.Load(), cs)
	}
	var seqs []uint64
	for _, r := range storedRows(t, n.store.db) {
		seqs = append(seqs, r.seq)
		if r.seq == 3 && r.id != target {
			t.Fatal("retried envelope changed id")
		}
	}
	if len(storedTwice(t, n.store.db)) != 0 {
		t.Fatal("stored twice")
	}
	for _, s := range seqs {
		if s == 5 {
			t.Fatal("permanently refused envelope stored")
		}
	}
}

func TestConsumerRejectsSpoofedEnvelope(t *testing.T) {
	n := startNode(t, nodeOpts{})
	defer n.stop(t)
	waitFor(t, 5*time.Second, "stream", func() bool { _, err := jsStream(n.nc, DefaultStream); return err == nil })
	data := []byte(`{"v":1,"type":"flow"}`)
	// An envelope claiming sensor b, on a's subject (as a's credentials
	// would allow).
	env := appendEnvelope(nil, EventID("b", "flow", data), "b", 1, "flow", time.Now(), data)
	if _, err := n.nc.Request("heir.a.flow", env, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "rejected", func() bool { return n.cons.Stats().Rejected == 1 })
	if n.store.count(t) != 0 {
		t.Fatal("spoofed envelope stored")
	}
}

// TestResendIsStoredOnce: the same envelope published twice (a sensor that
// crashed after JetStream acknowledged but before its spool recorded it)
// is one event.
func TestResendIsStoredOnce(t *testing.T) {
	n := startNode(t, nodeOpts{})
	defer n.stop(t)
	waitFor(t, 5*time.Second, "stream", func() bool { _, err := jsStream(n.nc, DefaultStream); return err == nil })
	data, _ := json.Marshal(testFlow(1))
	id := EventID("a", "flow", data)
	env := appendEnvelope(nil, id, "a", 1, "flow", time.Now(), data)
	for range 2 {
		// Without the JetStream message id, so that only the store's
		// idempotence can dedupe.
		if _, err := n.nc.Request("heir.a.flow", env, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "both delivered", func() bool { return n.cons.Stats().Stored == 2 })
	if c := n.store.count(t); c != 1 || n.store.dups.Load() != 1 {
		t.Fatalf("%d rows, %d duplicates seen", c, n.store.dups.Load())
	}
}

// TestInProcessSensor: a sensor inside the node's process (heir demo)
// reaches a server that listens on no port.
func TestInProcessSensor(t *testing.T) {
	dir := t.TempDir()
	reg := NewRegistry(filepath.Join(dir, "sensors.json"))
	srv, err := StartServer(ServerConfig{StoreDir: filepath.Join(dir, "nats"), NoListen: true, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if srv.URL() != "" {
		t.Fatalf("URL %q without a listener", srv.URL())
	}
	nc, err := srv.Connect("node")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	store, err := openStore(filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.db.Close()
	cons, _ := NewConsumer(nc, ConsumerConfig{CreateStream: true}, store)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	defer func() { cancel(); <-done }()
	c, err := reg.Add("demo", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	p, stop := runPublisher(t, PublisherConfig{Creds: c, SpoolDir: t.TempDir(), NATSOptions: []nats.Option{srv.InProcess()}})
	a := &event.Asset{V: 1, Type: event.TypeAsset, ID: "mac-024d4c00000a", Role: "pacs", Software: []string{"<OFFIS & DCMTK>"}}
	if err := p.Publish(event.TypeAsset, a); err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	if err := p.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	stop()
	waitFor(t, 5*time.Second, "stored", func() bool { return store.count(t) == 1 })
	rows := storedRows(t, store.db)
	if rows[0].typ != "asset" || !strings.Contains(rows[0].data, `"<OFFIS & DCMTK>"`) {
		t.Fatalf("stored %+v", rows[0])
	}
}

// TestConsumerWorkers: with several workers every envelope is stored
// exactly once, failed ones included, and each failure is retried.
func TestConsumerWorkers(t *testing.T) {
	var failed sync.Map // seq → true once its first delivery failed
	var inFlight, most atomic.Int32
	n := startNode(t, nodeOpts{ackWait: 2 * time.Second, workers: 4, failFunc: func(e Envelope) error {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		time.Sleep(time.Millisecond) // the store's work, during which others run
		if e.Seq%17 == 0 {
			if _, again := failed.LoadOrStore(e.Seq, true); !again {
				return errors.New("store unavailable")
			}
		}
		return nil
	}})
	defer n.stop(t)
	c := n.addSensor(t, "w")
	p, stop := runPublisher(t, PublisherConfig{Creds: c, SpoolDir: t.TempDir()})
	const total = 400
	for i := range total {
		p.Publish(event.TypeFlow, testFlow(i))
	}
	waitFor(t, 30*time.Second, "stored", func() bool { return n.store.count(t) == total })
	stop()
	if twice := storedTwice(t, n.store.db); len(twice) != 0 {
		t.Fatalf("stored twice: %v", twice)
	}
	seen := map[uint64]bool{}
	for _, r := range storedRows(t, n.store.db) {
		seen[r.seq] = true
	}
	if len(seen) != total {
		t.Fatalf("%d distinct envelopes stored, want %d", len(seen), total)
	}
	if most.Load() < 2 {
		t.Errorf("at most %d envelope handled at once with 4 workers", most.Load())
	}
	wantFailed := total / 17
	if cs := n.cons.Stats(); cs.Retried != uint64(wantFailed) || cs.Rejected != 0 || cs.Stored < total {
		t.Fatalf("consumer stats %+v, want %d retried", cs, wantFailed)
	}
}
