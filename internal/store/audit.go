package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// GenesisHash is the PrevHash of the first audit record.
var GenesisHash = strings.Repeat("0", 2*sha256.Size)

// AuditHash is a record's hash: SHA-256 over a version label, the previous
// record's hash and every field of the record, each length-prefixed so
// that no two different records encode alike. Time counts in
// microseconds, the precision both backends keep. The previous hash in
// the input is what chains the records: changing, inserting or deleting
// one changes every hash after it.
func AuditHash(prevHash string, r AuditRecord) string {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field("heir-audit-v1")
	field(prevHash)
	field(strconv.FormatInt(r.Seq, 10))
	field(strconv.FormatInt(r.Time.UnixMicro(), 10))
	field(r.Actor)
	field(r.Action)
	field(r.ObjectType)
	field(r.ObjectID)
	field(r.Reason)
	field(string(r.Before))
	field(string(r.After))
	return hex.EncodeToString(h.Sum(nil))
}

// TamperError says where the audit chain broke.
type TamperError struct {
	Seq    int64
	Reason string
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("audit record %d: %s", e.Seq, e.Reason)
}

// Unwrap makes errors.Is(err, ErrTampered) true.
func (e *TamperError) Unwrap() error { return ErrTampered }

// ChainVerifier checks audit records one at a time, in sequence order, so
// that a backend can stream a long trail through it.
type ChainVerifier struct {
	head AuditHead
}

// NewChainVerifier starts at the genesis.
func NewChainVerifier() *ChainVerifier {
	return &ChainVerifier{head: AuditHead{Seq: 0, Hash: GenesisHash}}
}

// Next checks the next record: its sequence number follows the last one,
// it names the last hash as its previous, and its own hash is right.
func (v *ChainVerifier) Next(r AuditRecord) error {
	switch {
	case r.Seq != v.head.Seq+1:
		return &TamperError{Seq: r.Seq, Reason: fmt.Sprintf("follows record %d (a record is missing or was inserted)", v.head.Seq)}
	case r.PrevHash != v.head.Hash:
		return &TamperError{Seq: r.Seq, Reason: "previous hash does not match the record before it"}
	case AuditHash(r.PrevHash, r) != r.Hash:
		return &TamperError{Seq: r.Seq, Reason: "content does not match its hash (edited)"}
	}
	v.head = AuditHead{Seq: r.Seq, Hash: r.Hash}
	return nil
}

// Head is the last record checked.
func (v *ChainVerifier) Head() AuditHead { return v.head }

// Finish compares the end of the chain with the head the store (or an
// exported copy) recorded: a trail whose last records were deleted still
// chains, but no longer reaches the head.
func (v *ChainVerifier) Finish(want AuditHead) error {
	if v.head != want {
		return &TamperError{Seq: v.head.Seq, Reason: fmt.Sprintf("chain ends at record %d but the head says %d (%s…)", v.head.Seq, want.Seq, want.Hash[:min(12, len(want.Hash))])}
	}
	return nil
}
