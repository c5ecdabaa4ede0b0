package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/heir-emd/heir/internal/store"
)

func testSettings(t *testing.T, b Backend) {
	s, clock := open(t, b)
	ctx := context.Background()
	_, err := s.Setting(ctx, "rama")
	wantErr(t, err, store.ErrNotFound)

	v1, err := s.PutSetting(ctx, "alice", store.Setting{Key: "rama", Value: "weights:\n  kev: 30\n"})
	must(t, err)
	if v1.Version != 1 || v1.UpdatedBy != "alice" || !v1.Updated.Equal(clock.Now()) {
		t.Fatalf("first put: %+v", v1)
	}
	got, err := s.Setting(ctx, "rama")
	must(t, err)
	if got != v1 {
		t.Fatalf("read back %+v, want %+v", got, v1)
	}
	// A writer that read nothing, or an old version, is refused.
	_, err = s.PutSetting(ctx, "bob", store.Setting{Key: "rama", Value: "x"})
	wantErr(t, err, store.ErrStale)
	_, err = s.PutSetting(ctx, "bob", store.Setting{Key: "rama", Version: 2, Value: "x"})
	wantErr(t, err, store.ErrStale)
	clock.Set(at(1))
	v2, err := s.PutSetting(ctx, "bob", store.Setting{Key: "rama", Version: 1, Value: "weights:\n  kev: 40\n"})
	must(t, err)
	if v2.Version != 2 || v2.UpdatedBy != "bob" || v2.Value != "weights:\n  kev: 40\n" {
		t.Fatalf("second put: %+v", v2)
	}
	if got, _ := s.Setting(ctx, "rama"); got != v2 {
		t.Fatalf("read back %+v, want %+v", got, v2)
	}
	// Other keys are separate.
	_, err = s.Setting(ctx, "other")
	wantErr(t, err, store.ErrNotFound)

	_, err = s.PutSetting(ctx, "bob", store.Setting{Key: "rama", Version: 2, Value: strings.Repeat("#", 300<<10)})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.PutSetting(ctx, "", store.Setting{Key: "rama", Version: 2, Value: "x"})
	wantErr(t, err, store.ErrInvalid)

	wantErr(t, s.ResetSetting(ctx, "carol", "rama", 1), store.ErrStale)
	must(t, s.ResetSetting(ctx, "carol", "rama", 2))
	_, err = s.Setting(ctx, "rama")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.ResetSetting(ctx, "carol", "rama", 2), store.ErrNotFound)

	// Every change is in the audit trail with what it replaced.
	pg, err := s.ListAudit(ctx, store.AuditQuery{ObjectType: "setting", ObjectID: "rama"})
	must(t, err)
	type doc struct {
		Version int64  `json:"version"`
		Value   string `json:"value"`
	}
	var seen []string
	for _, r := range pg.Items {
		var before, after doc
		if len(r.Before) > 0 {
			must(t, json.Unmarshal(r.Before, &before))
		}
		if len(r.After) > 0 {
			must(t, json.Unmarshal(r.After, &after))
		}
		seen = append(seen, r.Actor+" "+r.Action+" "+strconv.FormatInt(before.Version, 10)+"→"+strconv.FormatInt(after.Version, 10))
	}
	// Newest first, as the audit list reads.
	want := []string{"carol settings.reset 2→0", "bob settings.put 1→2", "alice settings.put 0→1"}
	if strings.Join(seen, "; ") != strings.Join(want, "; ") {
		t.Fatalf("audit trail:\n got %q\nwant %q", seen, want)
	}
	_, err = s.VerifyAudit(ctx)
	must(t, err)
}

// testSettingsConcurrent: of writers racing from the same version exactly
// one wins; the others learn that they are stale.
func testSettingsConcurrent(t *testing.T, b Backend) {
	s, _ := open(t, b)
	ctx := context.Background()
	_, err := s.PutSetting(ctx, "alice", store.Setting{Key: "rama", Value: "v1"})
	must(t, err)
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = s.PutSetting(ctx, "alice", store.Setting{Key: "rama", Version: 1, Value: "v2-" + string(rune('a'+i))})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrStale):
			t.Fatalf("racing writer: %v", err)
		}
	}
	got, err := s.Setting(ctx, "rama")
	must(t, err)
	if wins != 1 || got.Version != 2 {
		t.Fatalf("%d writers won, version %d: want exactly one and version 2", wins, got.Version)
	}
}
