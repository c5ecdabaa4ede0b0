package spool

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

func rec(i int, size int) []byte {
	b := bytes.Repeat([]byte{byte('a' + i%26)}, size)
	copy(b, fmt.Sprintf("rec-%06d:", i))
	return b
}

func mustOpen(t *testing.T, o Options) *Spool {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

func readAll(t *testing.T, s *Spool) []Entry {
	t.Helper()
	var all []Entry
	for {
		es, err := s.Read(7, 1<<20)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(es) == 0 {
			return all
		}
		all = append(all, es...)
	}
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTripAcrossSegmentsAndRestart(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, SegmentBytes: MinSegmentBytes, MaxBytes: 1 << 20}
	s := mustOpen(t, o)
	const n = 200
	for i := range n {
		first, err := s.Append(rec(i, 1000))
		if err != nil {
			t.Fatal(err)
		}
		if first != uint64(i+1) {
			t.Fatalf("record %d got sequence %d, want %d", i, first, i+1)
		}
	}
	// 1008 framed bytes per record; 65 fit a 64 KiB segment.
	if got, want := len(segFiles(t, dir)), 4; got != want {
		t.Fatalf("%d segment files, want %d", got, want)
	}
	got := readAll(t, s)
	if len(got) != n {
		t.Fatalf("read %d records, want %d", len(got), n)
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) || !bytes.Equal(e.Data, rec(i, 1000)) {
			t.Fatalf("entry %d: seq %d data %q…", i, e.Seq, e.Data[:12])
		}
	}
	// Acknowledge the first 100: segment 1 (1-65) goes, segment 2 (66-130) stays.
	if err := s.Ack(100); err != nil {
		t.Fatal(err)
	}
	if got, want := len(segFiles(t, dir)), 3; got != want {
		t.Fatalf("after ack: %d segment files, want %d", got, want)
	}
	st := s.Stats()
	if st.Pending != 100 || st.Acked != 100 || st.AckedSeq != 100 || st.NextSeq != n+1 {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, o)
	defer s.Close()
	got = readAll(t, s)
	if len(got) != 100 || got[0].Seq != 101 || !bytes.Equal(got[0].Data, rec(100, 1000)) {
		t.Fatalf("after reopen read %d records starting at %d", len(got), got[0].Seq)
	}
	first, err := s.Append(rec(n, 10))
	if err != nil || first != n+1 {
		t.Fatalf("append after reopen: seq %d, %v", first, err)
	}
	if err := s.Ack(n); err != nil {
		t.Fatal(err)
	}
	es, err := s.Read(10, 1<<20)
	if err != nil || len(es) != 1 || es[0].Seq != n+1 {
		t.Fatalf("read after ack: %v %v", es, err)
	}
	if err := s.Ack(n + 1); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Pending != 0 || st.Segments != 1 {
		t.Fatalf("all acknowledged, stats %+v", st)
	}
}

func TestNumberingSurvivesEmptySpool(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, SegmentBytes: MinSegmentBytes, MaxBytes: 4 * MinSegmentBytes}
	s := mustOpen(t, o)
	for i := range 100 { // two segments
		if _, err := s.Append(rec(i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	readAll(t, s)
	if err := s.Ack(100); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, o)
	defer s.Close()
	if got := s.NextSeq(); got != 101 {
		t.Fatalf("next sequence after reopening an acknowledged spool: %d, want 101", got)
	}
	if es := readAll(t, s); len(es) != 0 {
		t.Fatalf("acknowledged records handed out again: %d", len(es))
	}
}

func TestRewindResendsUnacknowledged(t *testing.T) {
	s := mustOpen(t, Options{Dir: t.TempDir(), SegmentBytes: MinSegmentBytes, MaxBytes: 1 << 20})
	defer s.Close()
	for i := range 100 {
		if _, err := s.Append(rec(i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if es, _ := s.Read(80, 1<<20); len(es) != 80 {
		t.Fatalf("read %d records, want 80", len(es))
	}
	if err := s.Ack(70); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(90); err == nil {
		t.Fatal("acknowledging a record that was never read succeeded")
	}
	s.Rewind()
	es, err := s.Read(5, 1<<20)
	if err != nil || len(es) != 5 || es[0].Seq != 71 || !bytes.Equal(es[0].Data, rec(70, 1000)) {
		t.Fatalf("after rewind: %d entries from %d, %v", len(es), es[0].Seq, err)
	}
}

func TestReadByteLimit(t *testing.T) {
	s := mustOpen(t, Options{Dir: t.TempDir(), SegmentBytes: MinSegmentBytes, MaxBytes: 1 << 20})
	defer s.Close()
	for i := range 10 {
		if _, err := s.Append(rec(i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	es, _ := s.Read(100, 2500)
	if len(es) != 2 {
		t.Fatalf("2500-byte read returned %d records of 1000 bytes, want 2", len(es))
	}
	es, _ = s.Read(100, 10) // the first record always comes
	if len(es) != 1 || es[0].Seq != 3 {
		t.Fatalf("small read: %v", es)
	}
}

func TestFullDropsOldestAndCounts(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, Options{Dir: dir, SegmentBytes: MinSegmentBytes, MaxBytes: 2 * MinSegmentBytes})
	defer s.Close()
	// 65 records of 1008 framed bytes fill a segment. With a cap of two
	// segments, starting segments 3, 4 and 5 (at records 131, 196, 261)
	// drops segments 1, 2 and 3: 195 records.
	for i := range 300 {
		if _, err := s.Append(rec(i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Dropped != 195 || st.Pending != 105 || st.Segments != 2 || st.Bytes > 2*MinSegmentBytes {
		t.Fatalf("stats %+v", st)
	}
	es := readAll(t, s)
	if len(es) != 105 || es[0].Seq != 196 || !bytes.Equal(es[0].Data, rec(195, 1000)) || es[104].Seq != 300 {
		t.Fatalf("kept records %d..%d (%d)", es[0].Seq, es[len(es)-1].Seq, len(es))
	}
}

func TestDropWhileReading(t *testing.T) {
	s := mustOpen(t, Options{Dir: t.TempDir(), SegmentBytes: MinSegmentBytes, MaxBytes: 2 * MinSegmentBytes})
	defer s.Close()
	for i := range 70 {
		if _, err := s.Append(rec(i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	es, _ := s.Read(10, 1<<20) // in flight: 1-10
	if len(es) != 10 {
		t.Fatal(len(es))
	}
	for i := 70; i < 140; i++ { // starts segment 3 at 131: segment 1 dropped
		if _, err := s.Append(rec(i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Dropped != 65 || st.AckedSeq != 65 {
		t.Fatalf("stats %+v", st)
	}
	// A late acknowledgement of dropped records is harmless.
	if err := s.Ack(10); err != nil {
		t.Fatal(err)
	}
	es, err := s.Read(1, 1<<20)
	if err != nil || len(es) != 1 || es[0].Seq != 66 || !bytes.Equal(es[0].Data, rec(65, 1000)) {
		t.Fatalf("read after drop: %v %v", es, err)
	}
}

func TestTornTailIsCutOff(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, SegmentBytes: MinSegmentBytes, MaxBytes: 1 << 20}
	s := mustOpen(t, o)
	for i := range 5 {
		if _, err := s.Append(rec(i, 100)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// A crash in the middle of writing record 6: its header and half its data.
	seg := segFiles(t, dir)[0]
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:4], 100)
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(rec(5, 100), castagnoli))
	f.Write(hdr[:])
	f.Write(rec(5, 100)[:50])
	f.Close()

	s = mustOpen(t, o)
	defer s.Close()
	if st := s.Stats(); st.Corrupt != 1 || st.Pending != 5 || st.NextSeq != 6 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := s.Append(rec(99, 100)); err != nil {
		t.Fatal(err)
	}
	es := readAll(t, s)
	if len(es) != 6 || es[5].Seq != 6 || !bytes.Equal(es[5].Data, rec(99, 100)) {
		t.Fatalf("after repair: %d records", len(es))
	}
	fi, _ := os.Stat(seg)
	if fi.Size() != 6*108 {
		t.Fatalf("segment is %d bytes, want %d", fi.Size(), 6*108)
	}
}

func TestCorruptRecordInOlderSegment(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, SegmentBytes: MinSegmentBytes, MaxBytes: 1 << 20}
	s := mustOpen(t, o)
	for i := range 100 { // segments 1-65 and 66-100
		if _, err := s.Append(rec(i, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs := segFiles(t, dir)
	b, _ := os.ReadFile(segs[0])
	b[10*1008+20] ^= 0xff // record 11's data
	os.WriteFile(segs[0], b, 0o600)

	s = mustOpen(t, o)
	defer s.Close()
	if st := s.Stats(); st.Corrupt != 55 {
		t.Fatalf("stats %+v, want 55 corrupt (records 11-65)", st)
	}
	es := readAll(t, s)
	if len(es) != 45 || es[9].Seq != 10 || es[10].Seq != 66 || !bytes.Equal(es[10].Data, rec(65, 1000)) {
		t.Fatalf("read %d records", len(es))
	}
}

func TestOptionsValidated(t *testing.T) {
	for _, o := range []Options{
		{},
		{Dir: t.TempDir(), SegmentBytes: 1000},
		{Dir: t.TempDir(), SegmentBytes: MinSegmentBytes, MaxBytes: MinSegmentBytes},
		{Dir: t.TempDir(), SegmentBytes: MinSegmentBytes, MaxBytes: 1 << 20, MaxRecord: MinSegmentBytes},
	} {
		if s, err := Open(o); err == nil {
			s.Close()
			t.Errorf("options %+v accepted", o)
		}
	}
	s := mustOpen(t, Options{Dir: t.TempDir(), SegmentBytes: MinSegmentBytes, MaxBytes: 1 << 20, MaxRecord: 100})
	defer s.Close()
	if _, err := s.Append(make([]byte, 101)); err == nil {
		t.Error("record over the limit accepted")
	}
	if _, err := s.Append(nil); err == nil {
		t.Error("empty record accepted")
	}
}

// FuzzOpen feeds arbitrary bytes to Open as a segment file and an
// acknowledgement file: it must never fail or panic on bad content, hand
// out only records whose checksums hold, in sequence, and give the same
// records after a second Open.
func FuzzOpen(f *testing.F) {
	var good bytes.Buffer
	for i := range 3 {
		r := rec(i, 20)
		var hdr [8]byte
		binary.LittleEndian.PutUint32(hdr[:4], uint32(len(r)))
		binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(r, castagnoli))
		good.Write(hdr[:])
		good.Write(r)
	}
	f.Add(good.Bytes(), encodeAcked(1))
	f.Add(good.Bytes()[:good.Len()-3], encodeAcked(7))
	f.Add(good.Bytes(), []byte("junk"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, []byte(nil))
	f.Add([]byte{}, encodeAcked(0))
	f.Fuzz(func(t *testing.T, seg, acked []byte) {
		if len(seg) > 1<<20 {
			return
		}
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o600)
		if acked != nil {
			os.WriteFile(filepath.Join(dir, ackedFile), acked, 0o600)
		}
		o := Options{Dir: dir, SegmentBytes: MinSegmentBytes, MaxBytes: 4 * MinSegmentBytes, MaxRecord: 4096}
		s, err := Open(o)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		st := s.Stats()
		es := readAll(t, s)
		for i, e := range es {
			if e.Seq != st.AckedSeq+1+uint64(i) {
				t.Fatalf("entry %d has seq %d after acked %d", i, e.Seq, st.AckedSeq)
			}
		}
		if uint64(len(es)) != st.Pending {
			t.Fatalf("read %d records, %d pending", len(es), st.Pending)
		}
		if _, err := s.Append([]byte("next")); err != nil {
			t.Fatalf("append: %v", err)
		}
		s.Close()
		s, err = Open(o)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer s.Close()
		es2 := readAll(t, s)
		if len(es2) != len(es)+1 {
			t.Fatalf("reopen: %d records, want %d", len(es2), len(es)+1)
		}
		for i := range es {
			if es[i].Seq != es2[i].Seq || !bytes.Equal(es[i].Data, es2[i].Data) {
				t.Fatalf("record %d differs after reopen", i)
			}
		}
		if string(es2[len(es)].Data) != "next" {
			t.Fatalf("appended record reads back as %q", es2[len(es)].Data)
		}
	})
}

// FuzzScanRecords fuzzes the segment parser on its own (FuzzOpen goes
// through the file system and is slow): it must stop at the first bad
// frame, and the frames it accepts must re-encode to exactly the prefix it
// reports valid.
func FuzzScanRecords(f *testing.F) {
	var good bytes.Buffer
	for i := range 3 {
		good.Write(frame(rec(i, 20)))
	}
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:good.Len()-1])
	f.Add(append(good.Bytes(), 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		count, valid, err := scanRecords(bytes.NewReader(b), 4096, 0)
		if err != nil {
			t.Fatal(err)
		}
		if valid > int64(len(b)) {
			t.Fatalf("valid %d beyond %d bytes", valid, len(b))
		}
		var again bytes.Buffer
		rest := b[:valid]
		for n := uint64(0); n < count; n++ {
			l := binary.LittleEndian.Uint32(rest)
			again.Write(frame(rest[headerLen : headerLen+int(l)]))
			rest = rest[headerLen+int(l):]
		}
		if len(rest) != 0 || !bytes.Equal(again.Bytes(), b[:valid]) {
			t.Fatalf("%d records do not make up the %d valid bytes", count, valid)
		}
		// A limit stops early.
		if count > 0 {
			c1, v1, _ := scanRecords(bytes.NewReader(b), 4096, 1)
			if c1 != 1 || v1 > valid {
				t.Fatalf("limit 1: %d records, %d bytes", c1, v1)
			}
		}
	})
}

func frame(r []byte) []byte {
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:4], uint32(len(r)))
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(r, castagnoli))
	return append(hdr[:], r...)
}
