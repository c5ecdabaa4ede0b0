package store

import (
	"testing"
	"time"
)

func TestSeverityRank(t *testing.T) {
	for s, want := range map[string]int{"low": 1, "medium": 2, "high": 3, "critical": 4, "": 0, "High": 0} {
		if got := SeverityRank(s); got != want {
			t.Errorf("rank of %q: %d, want %d", s, got, want)
		}
	}
}

func TestDay(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	got := Day(time.Date(2026, 11, 29, 0, 30, 0, 0, paris)) // 23:30 UTC the day before
	if want := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("day %v, want %v", got, want)
	}
}
