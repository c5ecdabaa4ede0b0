package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heir-emd/heir/internal/store"
)

var scoreCols = []string{"kind", "subject", "day", "score", "band", "breakdown", "updated_us"}

func scoreRow(s store.Score, now time.Time) []any {
	return []any{string(s.Kind), s.Subject, dayText(s.Day), int64(s.Score), s.Band, string(s.Breakdown), us(now)}
}

// PutScore stores a day's score.
func (db *DB) PutScore(ctx context.Context, s store.Score) error {
	return db.inTx(ctx, func(c conn) error { return putScore(ctx, c, s) })
}

func putScore(ctx context.Context, c conn, s store.Score) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if _, err := c.exec(ctx, `INSERT INTO scores (kind, subject, day, score, band, breakdown, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, subject, day) DO UPDATE SET score = excluded.score, band = excluded.band,
			breakdown = excluded.breakdown, updated_us = excluded.updated_us`, scoreRow(s, c.db.now())...); err != nil {
		return fmt.Errorf("store score of %s %s: %w", s.Kind, s.Subject, err)
	}
	if s.Kind != store.ScoreDevice {
		return nil
	}
	// The device's current risk follows its latest day; an older day's
	// correction leaves it alone. ('' sorts before every day.)
	day := dayText(s.Day)
	_, err := c.exec(ctx, `UPDATE assets SET risk = ?, band = ?, risk_day = ? WHERE id = ? AND risk_day <= ?`,
		int64(s.Score), s.Band, day, s.Subject, day)
	return wrapErr(err, "update risk of asset %s", s.Subject)
}

// maxTrendDays bounds a trend query.
const maxTrendDays = 3660

// ScoreTrend returns a subject's scores on the days in [from, to].
func (db *DB) ScoreTrend(ctx context.Context, kind store.ScoreKind, subject string, from, to time.Time) ([]store.Score, error) {
	from, to = store.Day(from), store.Day(to)
	if to.Before(from) || to.Sub(from) > maxTrendDays*24*time.Hour {
		return nil, fmt.Errorf("score trend from %s to %s (want at most %d days, from before to): %w",
			from.Format(time.DateOnly), to.Format(time.DateOnly), maxTrendDays, store.ErrInvalid)
	}
	rows, err := db.reader().query(ctx, `SELECT day, score, band, breakdown FROM scores
		WHERE kind = ? AND subject = ? AND day >= ? AND day <= ? ORDER BY day`,
		string(kind), subject, dayText(from), dayText(to))
	if err != nil {
		return nil, fmt.Errorf("score trend of %s %s: %w", kind, subject, err)
	}
	defer rows.Close()
	var out []store.Score
	for rows.Next() {
		s := store.Score{Kind: kind, Subject: subject}
		var day, breakdown string
		if err := rows.Scan(&day, &s.Score, &s.Band, &breakdown); err != nil {
			return nil, fmt.Errorf("score trend of %s %s: %w", kind, subject, err)
		}
		if s.Day, err = parseDay(day); err != nil {
			return nil, err
		}
		if breakdown != "" {
			s.Breakdown = json.RawMessage(breakdown)
		}
		out = append(out, s)
	}
	return out, wrapErr(rows.Err(), "score trend of %s %s", kind, subject)
}
