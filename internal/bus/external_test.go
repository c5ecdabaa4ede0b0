package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/testenv"
)

// externalNATS returns the URL of the shared NATS JetStream server
// (HEIR_TEST_NATS, default nats://127.0.0.1:4222), skipping outside CI when
// it cannot be reached and failing in CI.
func externalNATS(t *testing.T) string {
	t.Helper()
	url := os.Getenv("HEIR_TEST_NATS")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err == nil {
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = js.AccountInfo(ctx)
		cancel()
		nc.Close()
	}
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("NATS JetStream at %s unreachable (set HEIR_TEST_NATS): %v", url, err)
		}
		t.Skipf("NATS JetStream at %s unreachable (set HEIR_TEST_NATS to run this test): %v", url, err)
	}
	return url
}

// TestExternalClusterTwoSensors runs the node against an existing NATS
// server (heir serve --nats-url): two sensors publish at once, each under
// its own name, and the node stores every event once, attributed to the
// right sensor and in each sensor's order. The server's auth is not ours:
// the test uses a prefix and stream of its own and deletes them.
func TestExternalClusterTwoSensors(t *testing.T) {
	url := externalNATS(t)
	var rnd [6]byte
	rand.Read(rnd[:])
	topo := Topology{Prefix: "heirtest" + hex.EncodeToString(rnd[:])}
	topo, _ = topo.normalise()

	nc, err := Dial(DialConfig{URLs: []string{url}, Name: "heir-node-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, topo.Stream); err != nil {
			t.Errorf("clean up stream %s: %v", topo.Stream, err)
		}
	}()
	store, err := openStore(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.db.Close()
	cons, err := NewConsumer(nc, ConsumerConfig{Topology: topo, CreateStream: true, Limits: StreamLimits{MaxBytes: 64 << 20}, Logger: testLogger(t)}, store)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	twoSensors(t, store, func(name string) PublisherConfig {
		return PublisherConfig{Sensor: name, URLs: []string{url}, Topology: Topology{Prefix: topo.Prefix}, SpoolDir: t.TempDir()}
	})
}

// twoSensors runs two publishers (ward-a, ward-b) at once and checks that
// the store gets every event once, from the right sensor, in each sensor's
// order.
func twoSensors(t *testing.T, store *sqlStore, cfg func(name string) PublisherConfig) {
	const each = 800
	sensors := []string{"ward-a", "ward-b"}
	var pubs []*Publisher
	var stops []func()
	for _, s := range sensors {
		p, stop := runPublisher(t, cfg(s))
		pubs = append(pubs, p)
		stops = append(stops, stop)
	}
	// Both publish at the same time.
	errs := make(chan error, len(pubs))
	for si, p := range pubs {
		go func() {
			for i := range each {
				f := testFlow(si*each + i)
				if err := p.Publish(event.TypeFlow, f); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range pubs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range pubs {
		dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := p.Drain(dctx)
		dcancel()
		if err != nil {
			t.Fatal(err)
		}
		stops[i]()
	}
	waitFor(t, 20*time.Second, "all stored", func() bool { return store.count(t) == 2*each })
	if twice := storedTwice(t, store.db); len(twice) != 0 {
		t.Fatalf("%d stored twice", len(twice))
	}
	last := map[string]uint64{}
	for _, r := range storedRows(t, store.db) {
		var f event.Flow
		json.Unmarshal([]byte(r.data), &f)
		si := map[string]int{"ward-a": 0, "ward-b": 1}[r.sensor]
		if want := testFlow(si*each + int(r.seq) - 1).ID; f.ID != want {
			t.Fatalf("%s seq %d carries flow %s, want %s", r.sensor, r.seq, f.ID, want)
		}
		if r.seq != last[r.sensor]+1 {
			t.Fatalf("%s: seq %d after %d", r.sensor, r.seq, last[r.sensor])
		}
		last[r.sensor] = r.seq
	}
	if last["ward-a"] != each || last["ward-b"] != each {
		t.Fatalf("last seqs %v", last)
	}
}
