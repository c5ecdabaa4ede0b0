package bus

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heir-emd/heir/internal/event"
)

// BenchmarkPublish measures what the spool costs: records through the
// Publisher (queue, disk spool, ordered publish, acknowledgement) against
// the baseline of publishing the same envelopes straight to JetStream with
// nats.go's asynchronous publish, both to the same embedded server over
// loopback TCP, each run until JetStream acknowledged everything.
func BenchmarkPublish(b *testing.B) {
	dir := b.TempDir()
	reg := NewRegistry(filepath.Join(dir, "sensors.json"))
	srv, err := StartServer(ServerConfig{StoreDir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:0", Registry: reg})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect("bench-node")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := EnsureStream(ctx, js, Topology{}, StreamLimits{MaxBytes: 4 << 30}); err != nil {
		b.Fatal(err)
	}
	creds, err := reg.Add("bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	creds.URLs = []string{srv.URL()}
	if err := srv.Reload(); err != nil {
		b.Fatal(err)
	}
	var n int // distinct records across runs, so JetStream never dedupes
	next := func() []byte {
		n++
		data, _ := json.Marshal(testFlow(n))
		return data
	}

	b.Run("baseline=jetstream-async", func(b *testing.B) {
		kp, _ := creds.keyPair()
		pub, _ := kp.PublicKey()
		sc, err := nats.Connect(srv.URL(), nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(InboxPrefix("bench")))
		if err != nil {
			b.Fatal(err)
		}
		defer sc.Close()
		sjs, _ := jetstream.New(sc, jetstream.WithPublishAsyncMaxPending(DefaultWindow))
		data := make([][]byte, b.N)
		for i := range data {
			data[i] = next()
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			id := EventID("bench", event.TypeFlow, data[i])
			msg := nats.NewMsg(Subject(DefaultPrefix, "bench", event.TypeFlow))
			msg.Data = appendEnvelope(nil, id, "bench", uint64(i+1), event.TypeFlow, time.Now(), data[i])
			msg.Header.Set(jetstream.MsgIDHeader, id)
			if _, err := sjs.PublishMsgAsync(msg); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-sjs.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("acknowledgements missing")
		}
	})

	b.Run("heir-publisher", func(b *testing.B) {
		p, err := NewPublisher(PublisherConfig{Creds: creds, SpoolDir: b.TempDir(), QueueLen: max(b.N, 1), QueueBytes: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(rctx) }()
		defer func() { cancel(); <-done }()
		data := make([][]byte, b.N)
		for i := range data {
			data[i] = next()
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := p.PublishJSON(event.TypeFlow, data[i]); err != nil {
				b.Fatal(err)
			}
		}
		dctx, dcancel := context.WithTimeout(ctx, time.Minute)
		defer dcancel()
		if err := p.Drain(dctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st := p.Stats(); st.Published != uint64(b.N) {
			b.Fatalf("published %d of %d", st.Published, b.N)
		}
	})
}
