package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

// maxEventID bounds the ids the ingest table keeps.
const maxEventID = 512

// tx is the write side inside IngestOnce.
type tx struct{ c conn }

func (t tx) UpsertAsset(ctx context.Context, a event.Asset) error { return upsertAsset(ctx, t.c, a) }
func (t tx) UpsertFinding(ctx context.Context, f event.Finding) error {
	return upsertFinding(ctx, t.c, f)
}
func (t tx) UpsertAlert(ctx context.Context, a event.Alert) error { return upsertAlert(ctx, t.c, a) }
func (t tx) PutScore(ctx context.Context, s store.Score) error    { return putScore(ctx, t.c, s) }

// IngestOnce records eventID and runs fn in the same transaction, unless
// the id was recorded before. Concurrent deliveries of one id meet at the
// primary key: on PostgreSQL the second insert waits for the first
// transaction and then finds the row (or, if the first rolled back,
// inserts it); on SQLite the single writer orders them.
func (db *DB) IngestOnce(ctx context.Context, eventID string, fn func(ctx context.Context, tx store.Tx) error) (bool, error) {
	if eventID == "" || len(eventID) > maxEventID {
		return false, fmt.Errorf("event id of %d bytes (want 1 to %d): %w", len(eventID), maxEventID, store.ErrInvalid)
	}
	var stored bool
	err := db.inTx(ctx, func(c conn) error {
		stored = false
		n, err := c.affected(ctx, `INSERT INTO ingested (event_id, at_us) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING`,
			eventID, us(db.now()))
		if err != nil {
			return fmt.Errorf("record event %s: %w", eventID, err)
		}
		if n == 0 {
			return nil
		}
		if err := fn(ctx, tx{c: c}); err != nil {
			return fmt.Errorf("ingest event %s: %w", eventID, err)
		}
		stored = true
		return nil
	})
	return stored, err
}

// PruneIngested forgets event ids recorded before the given time.
func (db *DB) PruneIngested(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(c conn) error {
		var err error
		n, err = c.affected(ctx, `DELETE FROM ingested WHERE at_us < ?`, us(before))
		return wrapErr(err, "prune ingested events")
	})
	return n, err
}
