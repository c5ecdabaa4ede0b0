package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

func testIngestOnce(t *testing.T, b Backend) {
	ctx := context.Background()
	s, clock := open(t, b)
	calls := 0
	ingest := func(id string, a event.Asset) (bool, error) {
		return s.IngestOnce(ctx, id, func(ctx context.Context, tx store.Tx) error {
			calls++
			return tx.UpsertAsset(ctx, a)
		})
	}
	stored, err := ingest("ev-1", asset("i1", "first", "", "", "pacs", "", "", at(1)))
	must(t, err)
	if !stored || calls != 1 {
		t.Fatalf("first delivery: stored %v after %d calls", stored, calls)
	}
	// The redelivery is recognised and not applied.
	stored, err = ingest("ev-1", asset("i1", "second", "", "", "pacs", "", "", at(2)))
	must(t, err)
	if stored || calls != 1 {
		t.Fatalf("redelivery: stored %v after %d calls", stored, calls)
	}
	a, err := s.Asset(ctx, "i1")
	must(t, err)
	if a.Hostname != "first" {
		t.Errorf("redelivery changed the asset: %q", a.Hostname)
	}

	// A failing handler records nothing: not the id, not its writes.
	boom := errors.New("boom")
	stored, err = s.IngestOnce(ctx, "ev-2", func(ctx context.Context, tx store.Tx) error {
		if err := tx.UpsertAsset(ctx, asset("i2", "", "", "", "pacs", "", "", at(1))); err != nil {
			return err
		}
		if err := tx.UpsertAlert(ctx, alertSet()[0]); err != nil {
			return err
		}
		return boom
	})
	if stored || !errors.Is(err, boom) {
		t.Fatalf("failing handler: stored %v, err %v", stored, err)
	}
	_, err = s.Asset(ctx, "i2")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.Alert(ctx, "al1")
	wantErr(t, err, store.ErrNotFound)
	// … so the redelivery is applied.
	stored, err = s.IngestOnce(ctx, "ev-2", func(ctx context.Context, tx store.Tx) error {
		if err := tx.UpsertFinding(ctx, finding("f1", "i2", "telnet", event.SeverityMedium, at(1), 1)); err != nil {
			return err
		}
		return tx.PutScore(ctx, store.Score{Kind: store.ScoreDevice, Subject: "i2", Day: t0, Score: 50, Band: store.BandMedium})
	})
	must(t, err)
	if !stored {
		t.Fatal("redelivery after a failure was not stored")
	}
	_, err = s.Finding(ctx, "f1")
	must(t, err)

	// Pruning forgets old ids (the bus no longer redelivers them).
	clock.Set(at(10))
	_, err = ingest("ev-3", asset("i3", "", "", "", "pacs", "", "", at(1)))
	must(t, err)
	n, err := s.PruneIngested(ctx, at(5))
	must(t, err)
	if n != 2 {
		t.Errorf("pruned %d ids, want 2 (ev-1, ev-2)", n)
	}
	stored, err = ingest("ev-1", asset("i1", "third", "", "", "pacs", "", "", at(3)))
	must(t, err)
	if !stored {
		t.Error("a pruned id was still known")
	}
	stored, err = ingest("ev-3", asset("i3", "", "", "", "pacs", "", "", at(1)))
	must(t, err)
	if stored {
		t.Error("an id newer than the prune time was forgotten")
	}
	_, err = s.IngestOnce(ctx, "", func(context.Context, store.Tx) error { return nil })
	wantErr(t, err, store.ErrInvalid)
}

// testIngestOnceConcurrent delivers every event several times at once,
// as a redelivering bus with several consumers would: each is stored
// exactly once.
func testIngestOnceConcurrent(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	const events, copies = 30, 6
	var stored [events]atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, events*copies)
	for c := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range events {
				// Each copy walks the events from a different start, so
				// that duplicates meet at different moments.
				e := (i + c*5) % events
				ok, err := s.IngestOnce(ctx, fmt.Sprintf("ev-%d", e), func(ctx context.Context, tx store.Tx) error {
					return tx.UpsertAlert(ctx, alert(fmt.Sprintf("c%d", e), "scan", "reconnaissance", event.SeverityLow,
						"10.0.0.1", []string{"10.0.0.2"}, at(float64(e)), at(float64(e)+0.1), 1))
				})
				if err != nil {
					errs <- err
					continue
				}
				if ok {
					stored[e].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for e := range events {
		if n := stored[e].Load(); n != 1 {
			t.Errorf("event %d stored %d times, want once", e, n)
		}
	}
	// Every alert landed once in the rollup too.
	got, err := s.AlertHistogram(ctx, store.HistogramQuery{From: t0, To: at(events), Bucket: time.Hour})
	must(t, err)
	if sumBuckets(got) != events {
		t.Errorf("rollup after concurrent ingest: %v, want %d alerts", got, events)
	}
}

func sumBuckets(bs []store.AlertBucket) int64 {
	var n int64
	for _, b := range bs {
		n += b.Count
	}
	return n
}

// testConcurrentUpserts updates one asset, one finding and one alert from
// many goroutines: the result is the newest snapshot with the widest
// span and the highest count, whatever the interleaving.
func testConcurrentUpserts(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	const workers, rounds = 6, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				k := float64(w*rounds + r) // 0 … 47, each once
				a := asset("hot", fmt.Sprintf("name-%02.0f", k), "", "10.0.0.9", "pacs", "", "", at(k))
				a.FirstSeen = at(k - 1)
				if err := s.UpsertAsset(ctx, a); err != nil {
					errs <- err
				}
				f := finding("hotf", "hot", "telnet", event.SeverityMedium, at(k), uint64(k)+1)
				f.FirstSeen = at(k - 1)
				if err := s.UpsertFinding(ctx, f); err != nil {
					errs <- err
				}
				al := alert("hota", "scan", "reconnaissance", event.SeverityLow, "10.0.0.1", []string{"10.0.0.9"}, at(-k), at(k), uint64(k)+1)
				if err := s.UpsertAlert(ctx, al); err != nil {
					errs <- err
				}
				// Distinct records in parallel as well.
				if err := s.UpsertAsset(ctx, asset(fmt.Sprintf("d%02.0f", k), "", "", "", "pacs", "", "", at(k))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	a, err := s.Asset(ctx, "hot")
	must(t, err)
	if a.Hostname != "name-47" || !a.FirstSeen.Equal(at(-1)) || !a.LastSeen.Equal(at(47)) {
		t.Errorf("hot asset: %s first %v last %v (want name-47, %v, %v)", a.Hostname, a.FirstSeen, a.LastSeen, at(-1), at(47))
	}
	f, err := s.Finding(ctx, "hotf")
	must(t, err)
	if f.Count != 48 || !f.FirstSeen.Equal(at(-1)) || !f.LastSeen.Equal(at(47)) {
		t.Errorf("hot finding: count %d first %v last %v (want 48, %v, %v)", f.Count, f.FirstSeen, f.LastSeen, at(-1), at(47))
	}
	al, err := s.Alert(ctx, "hota")
	must(t, err)
	if al.Count != 48 || !al.Start.Equal(at(-47)) || !al.End.Equal(at(47)) {
		t.Errorf("hot alert: count %d start %v end %v (want 48, %v, %v)", al.Count, al.Start, al.End, at(-47), at(47))
	}
	p, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{WithTotal: true}})
	must(t, err)
	if p.Total != workers*rounds+1 {
		t.Errorf("%d assets, want %d", p.Total, workers*rounds+1)
	}
	hist, err := s.AlertHistogram(ctx, store.HistogramQuery{From: at(-63), To: at(9), Bucket: time.Hour})
	must(t, err)
	if len(hist) != 1 || hist[0].Count != 1 || !hist[0].Start.Equal(at(-47)) {
		t.Errorf("rollup of one incident updated concurrently: %v", hist)
	}
}
