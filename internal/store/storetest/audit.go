package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/heir-emd/heir/internal/store"
)

func entry(actor, id string, n int) store.AuditEntry {
	return store.AuditEntry{Actor: actor, Action: "finding.triage", ObjectType: "finding", ObjectID: id,
		Before: json.RawMessage(`{"state":"open"}`), After: json.RawMessage(fmt.Sprintf(`{"state":"accepted","n":%d}`, n))}
}

func testAuditChain(t *testing.T, b Backend) {
	ctx := context.Background()
	s, clock := open(t, b)
	head, err := s.VerifyAudit(ctx)
	must(t, err)
	if head != (store.AuditHead{Seq: 0, Hash: store.GenesisHash}) {
		t.Errorf("empty trail head %+v", head)
	}
	var recs []store.AuditRecord
	for i := range 4 {
		clock.Set(at(float64(i)))
		actor := "alice"
		if i%2 == 1 {
			actor = "bob"
		}
		r, err := s.AppendAudit(ctx, entry(actor, fmt.Sprintf("f%d", i), i))
		must(t, err)
		recs = append(recs, r)
	}
	for i, r := range recs {
		prev := store.GenesisHash
		if i > 0 {
			prev = recs[i-1].Hash
		}
		if r.Seq != int64(i+1) || r.PrevHash != prev || !r.Time.Equal(at(float64(i))) || len(r.Hash) != 64 || r.Hash == prev {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	head, err = s.VerifyAudit(ctx)
	must(t, err)
	stored, err := s.AuditHead(ctx)
	must(t, err)
	if head != (store.AuditHead{Seq: 4, Hash: recs[3].Hash}) || stored != head {
		t.Errorf("verified head %+v, stored head %+v, want 4 %s", head, stored, recs[3].Hash)
	}

	// Lists: newest first by default, oldest first by "seq", filters,
	// pages.
	p, err := s.ListAudit(ctx, store.AuditQuery{})
	must(t, err)
	if len(p.Items) != 4 || p.Items[0].Seq != 4 || p.Items[3].Seq != 1 {
		t.Errorf("audit list: %d records, first %d", len(p.Items), p.Items[0].Seq)
	}
	if string(p.Items[3].After) != `{"state":"accepted","n":0}` || p.Items[3].Hash != recs[0].Hash {
		t.Errorf("stored record differs: %+v", p.Items[3])
	}
	p, err = s.ListAudit(ctx, store.AuditQuery{Actor: "bob", ListOptions: store.ListOptions{Sort: store.Sort{Key: "seq"}}})
	must(t, err)
	if len(p.Items) != 2 || p.Items[0].Seq != 2 || p.Items[1].Seq != 4 {
		t.Errorf("bob's records: %+v", p.Items)
	}
	p, err = s.ListAudit(ctx, store.AuditQuery{Since: at(1), Until: at(3)})
	must(t, err)
	if len(p.Items) != 2 || p.Items[0].Seq != 3 || p.Items[1].Seq != 2 {
		t.Errorf("records in [1h, 3h): %+v", p.Items)
	}
	var seqs []int64
	for cur := ""; ; {
		p, err := s.ListAudit(ctx, store.AuditQuery{ListOptions: store.ListOptions{Limit: 3, Cursor: cur}})
		must(t, err)
		for _, r := range p.Items {
			seqs = append(seqs, r.Seq)
		}
		if cur = p.Next; cur == "" {
			break
		}
	}
	if fmt.Sprint(seqs) != "[4 3 2 1]" {
		t.Errorf("paged audit: %v", seqs)
	}

	// Bad entries are refused before they reach the chain.
	for name, e := range map[string]store.AuditEntry{
		"no actor":    {Action: "x", ObjectType: "y"},
		"no action":   {Actor: "x", ObjectType: "y"},
		"bad before":  {Actor: "x", Action: "y", ObjectType: "z", Before: json.RawMessage(`{`)},
		"huge reason": {Actor: "x", Action: "y", ObjectType: "z", Reason: string(make([]byte, 5000))},
	} {
		_, err := s.AppendAudit(ctx, e)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// The database itself refuses changes to records.
	if err := b.Exec(ctx, s, `UPDATE audit SET actor = 'mallory' WHERE seq = 2`); err == nil {
		t.Error("an audit record could be updated")
	}
	if err := b.Exec(ctx, s, `DELETE FROM audit WHERE seq = 4`); err == nil {
		t.Error("an audit record could be deleted")
	}
	_, err = s.VerifyAudit(ctx)
	must(t, err)
}

func testAuditTamper(t *testing.T, b Backend) {
	ctx := context.Background()
	cases := []struct {
		name    string
		stmts   func(recs []store.AuditRecord) []string
		wantSeq int64
	}{
		{"edited actor", func([]store.AuditRecord) []string {
			return []string{`UPDATE audit SET actor = 'mallory' WHERE seq = 2`}
		}, 2},
		{"edited after document", func([]store.AuditRecord) []string {
			return []string{`UPDATE audit SET after_doc = '{"state":"open"}' WHERE seq = 4`}
		}, 4},
		{"edited time", func([]store.AuditRecord) []string {
			return []string{`UPDATE audit SET at_us = at_us + 1 WHERE seq = 1`}
		}, 1},
		{"deleted record", func([]store.AuditRecord) []string {
			return []string{`DELETE FROM audit WHERE seq = 3`}
		}, 4},
		{"deleted tail", func([]store.AuditRecord) []string {
			return []string{`DELETE FROM audit WHERE seq = 5`}
		}, 4},
		{"edited record with its hash recomputed", func(recs []store.AuditRecord) []string {
			r := recs[1]
			r.Actor = "mallory"
			return []string{fmt.Sprintf(`UPDATE audit SET actor = 'mallory', hash = '%s' WHERE seq = 2`, store.AuditHash(r.PrevHash, r))}
		}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, clock := open(t, b)
			var recs []store.AuditRecord
			for i := range 5 {
				clock.Set(at(float64(i)))
				r, err := s.AppendAudit(ctx, entry("alice", fmt.Sprintf("f%d", i), i))
				must(t, err)
				recs = append(recs, r)
			}
			must(t, b.DisableAuditGuards(ctx, s))
			for _, stmt := range tc.stmts(recs) {
				must(t, b.Exec(ctx, s, stmt))
			}
			_, err := s.VerifyAudit(ctx)
			var te *store.TamperError
			if !errors.As(err, &te) || !errors.Is(err, store.ErrTampered) {
				t.Fatalf("verify after tampering: %v, want a TamperError", err)
			}
			if te.Seq != tc.wantSeq {
				t.Errorf("tampering reported at record %d (%s), want %d", te.Seq, te.Reason, tc.wantSeq)
			}
		})
	}
}

func testAuditConcurrent(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	const workers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.AppendAudit(ctx, entry(fmt.Sprintf("user%d", w), fmt.Sprintf("f%d", i), i)); err != nil {
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
	head, err := s.VerifyAudit(ctx)
	must(t, err)
	if head.Seq != workers*each {
		t.Errorf("chain of %d records, want %d", head.Seq, workers*each)
	}
}
