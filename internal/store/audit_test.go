package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// TestAuditHashEncoding pins the hash to its documented encoding, built
// here by hand: a change of encoding would break every stored chain.
func TestAuditHashEncoding(t *testing.T) {
	r := AuditRecord{
		Seq:  7,
		Time: time.Date(2026, 11, 28, 15, 0, 0, 123456000, time.UTC),
		AuditEntry: AuditEntry{Actor: "alice", Action: "finding.triage", ObjectType: "finding", ObjectID: "fd1c",
			Reason: "", Before: json.RawMessage(`{"state":"open"}`), After: json.RawMessage(`{"state":"accepted"}`)},
	}
	var buf []byte
	for _, f := range []string{"heir-audit-v1", GenesisHash, "7", "1795878000123456", "alice", "finding.triage", "finding", "fd1c", "",
		`{"state":"open"}`, `{"state":"accepted"}`} {
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	sum := sha256.Sum256(buf)
	if got, want := AuditHash(GenesisHash, r), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("hash %s, want %s", got, want)
	}
	// Moving a byte from one field to the next changes the hash.
	moved := r
	moved.Actor, moved.Action = "alicef", "inding.triage"
	if AuditHash(GenesisHash, moved) == AuditHash(GenesisHash, r) {
		t.Error("field boundaries are not in the hash")
	}
}

func chain(n int) []AuditRecord {
	prev := GenesisHash
	var out []AuditRecord
	for i := 1; i <= n; i++ {
		r := AuditRecord{Seq: int64(i), Time: time.Unix(int64(i), 0).UTC(), AuditEntry: AuditEntry{Actor: "a", Action: "x", ObjectType: "o"}, PrevHash: prev}
		r.Hash = AuditHash(prev, r)
		prev = r.Hash
		out = append(out, r)
	}
	return out
}

func TestChainVerifier(t *testing.T) {
	verify := func(rs []AuditRecord, head AuditHead) error {
		v := NewChainVerifier()
		for _, r := range rs {
			if err := v.Next(r); err != nil {
				return err
			}
		}
		return v.Finish(head)
	}
	good := chain(4)
	head := AuditHead{Seq: 4, Hash: good[3].Hash}
	if err := verify(good, head); err != nil {
		t.Fatalf("good chain: %v", err)
	}
	edited := chain(4)
	edited[1].Reason = "changed"
	swapped := chain(4)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	cases := []struct {
		name string
		rs   []AuditRecord
		seq  int64
	}{
		{"edited", edited, 2},
		{"missing", append(chain(4)[:1], chain(4)[2:]...), 3},
		{"swapped", swapped, 3},
		{"truncated", chain(4)[:3], 3},
	}
	for _, tc := range cases {
		err := verify(tc.rs, head)
		var te *TamperError
		if !errors.As(err, &te) || !errors.Is(err, ErrTampered) || te.Seq != tc.seq {
			t.Errorf("%s: %v, want tampering at %d", tc.name, err, tc.seq)
		}
	}
}
