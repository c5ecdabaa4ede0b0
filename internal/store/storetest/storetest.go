// Package storetest is the conformance suite every store backend passes:
// Run exercises each store interface with the same assertions, so that
// SQLite and PostgreSQL behave alike; Bench measures the queries the UI's
// overview, device list and device page make, at hospital scale.
//
// Expected values are written out by hand in the tests (ids, orders,
// counts), never computed by the code under test.
package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/store"
)

// Backend is what the suite needs from a backend's tests.
type Backend struct {
	// Open returns a new, empty, migrated store that uses now as its
	// clock, and closes it (and drops its data) when the test ends.
	Open func(t *testing.T, now func() time.Time) store.Store
	// Exec runs a raw SQL statement on the store's database, as an
	// attacker or a careless administrator with database access would.
	Exec func(ctx context.Context, s store.Store, stmt string) error
	// DisableAuditGuards drops the triggers that refuse changes to audit
	// records, so that the suite can check the hash chain catches what
	// someone with full database access does.
	DisableAuditGuards func(ctx context.Context, s store.Store) error
	// Parallel runs the tests in parallel (each has a database of its
	// own), which hides the cost of creating them on a server.
	Parallel bool
}

// Run runs the conformance suite.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"Schema", testSchema},
		{"AssetRoundTrip", testAssetRoundTrip},
		{"AssetMerge", testAssetMerge},
		{"AssetFilters", testAssetFilters},
		{"AssetSorts", testAssetSorts},
		{"AssetPaging", testAssetPaging},
		{"AssetRisk", testAssetRisk},
		{"FindingRoundTrip", testFindingRoundTrip},
		{"FindingTriage", testFindingTriage},
		{"FindingReopen", testFindingReopen},
		{"FindingList", testFindingList},
		{"FindingCounts", testFindingCounts},
		{"AlertIncident", testAlertIncident},
		{"AlertList", testAlertList},
		{"AlertHistogram", testAlertHistogram},
		{"IngestOnce", testIngestOnce},
		{"IngestOnceConcurrent", testIngestOnceConcurrent},
		{"AuditChain", testAuditChain},
		{"AuditTamper", testAuditTamper},
		{"AuditConcurrent", testAuditConcurrent},
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"Tokens", testTokens},
		{"Sensors", testSensors},
		{"Scores", testScores},
		{"VulnReplace", testVulnReplace},
		{"VulnList", testVulnList},
		{"Settings", testSettings},
		{"SettingsConcurrent", testSettingsConcurrent},
		{"ConcurrentUpserts", testConcurrentUpserts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if b.Parallel {
				t.Parallel()
			}
			tc.fn(t, b)
		})
	}
}

// t0 is the suite's reference time.
var t0 = time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC)

// Clock is a settable clock for stores under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func open(t *testing.T, b Backend) (store.Store, *Clock) {
	t.Helper()
	c := NewClock(t0)
	return b.Open(t, c.Now), c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
