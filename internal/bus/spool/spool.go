// Package spool is a bounded, crash-safe first-in first-out queue of opaque
// records on disk: the sensor's buffer for events the hospital node has not
// acknowledged yet.
//
// Records live in segment files named after the sequence number of their
// first record (00000000000000000001.seg). Each record is framed as
//
//	u32 little-endian length | u32 little-endian CRC-32C of the data | data
//
// so that a record torn by a crash, or a corrupted one, is recognised and
// cut off when the spool is opened. Sequence numbers are assigned on Append,
// start at 1 and never repeat within a spool directory (they survive
// restarts because segment names carry them).
//
// A reader takes records from a read cursor with Read, and acknowledges them
// in order with Ack once the far end has them; Rewind moves the read cursor
// back to the first unacknowledged record after a failed delivery. A
// segment is deleted when all its records are acknowledged. The
// acknowledged position is kept in the file "acked" (written at most once a
// second and on Sync and Close): after a crash the spool may hand out again
// records that were already acknowledged, never lose one. Consumers must be
// idempotent.
//
// When the spool would exceed its size cap, it drops its oldest segment
// (acknowledged or not) and counts the unacknowledged records lost: for a
// security monitor the newest events matter most. The segment being written
// is never dropped.
//
// The package depends only on the standard library.
package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults and limits of Options.
const (
	DefaultSegmentBytes = 8 << 20
	DefaultMaxBytes     = 256 << 20
	DefaultMaxRecord    = 1 << 20
	// MinSegmentBytes keeps segments large enough that dropping one frees
	// room for at least a few maximum-sized records.
	MinSegmentBytes = 64 << 10
)

const (
	headerLen  = 8
	segSuffix  = ".seg"
	ackedFile  = "acked"
	ackedTmp   = "acked.tmp"
	ackedLen   = 12 // u64 seq | u32 crc
	ackPersist = time.Second
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrTooLarge is returned by Append for a record larger than MaxRecord.
var ErrTooLarge = errors.New("spool: record larger than the limit")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("spool: closed")

// Options configure a spool.
type Options struct {
	// Dir holds the segment files; it is created if missing.
	Dir string
	// SegmentBytes is the size at which a new segment file is started
	// (default DefaultSegmentBytes; at least MinSegmentBytes).
	SegmentBytes int64
	// MaxBytes caps the segment files' total size (default
	// DefaultMaxBytes; at least twice SegmentBytes). Past it the oldest
	// segment is dropped.
	MaxBytes int64
	// MaxRecord is the largest record accepted (default DefaultMaxRecord).
	// Larger lengths read from disk are taken for corruption.
	MaxRecord int
	// Logger receives corruption and drop notices (default: discarded).
	Logger *slog.Logger
}

func (o *Options) normalise() error {
	if o.Dir == "" {
		return errors.New("spool: no directory")
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = max(DefaultMaxBytes, 2*o.SegmentBytes)
	}
	if o.MaxRecord == 0 {
		o.MaxRecord = int(min(DefaultMaxRecord, o.SegmentBytes-headerLen))
	}
	if o.SegmentBytes < MinSegmentBytes {
		return fmt.Errorf("spool: segment size %d below the minimum %d", o.SegmentBytes, MinSegmentBytes)
	}
	if o.MaxBytes < 2*o.SegmentBytes {
		return fmt.Errorf("spool: size cap %d must be at least twice the segment size %d", o.MaxBytes, o.SegmentBytes)
	}
	if o.MaxRecord <= 0 || int64(o.MaxRecord)+headerLen > o.SegmentBytes {
		return fmt.Errorf("spool: record limit %d must be positive and fit a segment of %d bytes", o.MaxRecord, o.SegmentBytes)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Entry is one record handed out by Read. Data is the caller's to keep.
type Entry struct {
	Seq  uint64
	Data []byte
}

// Stats are the spool's counters (cumulative since Open) and gauges.
type Stats struct {
	// Pending is the number of records not yet acknowledged (a gauge).
	Pending uint64 `json:"pending"`
	// Bytes is the size of the segment files (a gauge).
	Bytes int64 `json:"bytes"`
	// Segments is the number of segment files (a gauge).
	Segments int `json:"segments"`
	// Appended counts records written since Open.
	Appended uint64 `json:"appended"`
	// Acked counts records acknowledged since Open.
	Acked uint64 `json:"acked"`
	// Dropped counts unacknowledged records lost to the size cap.
	Dropped uint64 `json:"dropped"`
	// Corrupt counts records lost to corruption found at Open (torn
	// tails, bad checksums, missing ranges).
	Corrupt uint64 `json:"corrupt"`
	// AckedSeq is the highest acknowledged sequence number: every record
	// up to it has been acknowledged or dropped.
	AckedSeq uint64 `json:"acked_seq"`
	// NextSeq is the sequence number the next appended record gets.
	NextSeq uint64 `json:"next_seq"`
}

// segment is one file: records first .. first+count-1.
type segment struct {
	first uint64
	count uint64
	size  int64
	path  string
	rd    *os.File // opened lazily for reading
}

// pos is a place in the spool: a record's sequence number, and the
// segment (by its first sequence number) and offset where it starts. A
// position just past a segment's last record stays in that segment until a
// reader moves on: the segment may still grow.
type pos struct {
	seq uint64
	seg uint64
	off int64
}

// Spool is safe for concurrent use by one appender and one reader.
type Spool struct {
	opts Options

	mu       sync.Mutex
	closed   bool
	segs     []*segment // oldest first; the last is written to
	w        *os.File   // the last segment, for appending
	total    int64
	nextSeq  uint64
	read     pos // next record Read returns
	acked    pos // first unacknowledged record
	inflight []pos
	lastSave time.Time
	dirty    bool // the tail has unsynced writes
	ackDirty bool // the acked file is behind
	stats    Stats
	notify   chan struct{}
}

// Open opens (or creates) the spool in opts.Dir, checking every record and
// cutting off a torn or corrupt tail.
func Open(opts Options) (*Spool, error) {
	if err := opts.normalise(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", opts.Dir, err)
	}
	s := &Spool{opts: opts, nextSeq: 1, notify: make(chan struct{}, 1)}
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

func (s *Spool) load() error {
	des, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("spool: read %s: %w", s.opts.Dir, err)
	}
	var firsts []uint64
	for _, de := range des {
		name := de.Name()
		if !strings.HasSuffix(name, segSuffix) || !de.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil || n == 0 || segName(n) != name {
			continue // not ours
		}
		firsts = append(firsts, n)
	}
	slices.Sort(firsts)
	ackedSeq := s.readAcked()
	for i, first := range firsts {
		seg := &segment{first: first, path: filepath.Join(s.opts.Dir, segName(first))}
		limit := uint64(0) // records the name range allows; 0: unbounded
		if i+1 < len(firsts) {
			limit = firsts[i+1] - first
		}
		if err := s.scan(seg, limit); err != nil {
			return err
		}
		if limit > 0 && seg.count < limit {
			s.stats.Corrupt += limit - seg.count
		}
		if seg.count == 0 && i+1 < len(firsts) {
			_ = os.Remove(seg.path)
			continue
		}
		s.segs = append(s.segs, seg)
		s.total += seg.size
		s.nextSeq = seg.first + seg.count
	}
	if len(s.segs) > 0 {
		s.stats.AckedSeq = max(ackedSeq, s.segs[0].first-1)
	} else if ackedSeq > 0 {
		// Everything was acknowledged and deleted: keep numbering.
		s.nextSeq = ackedSeq + 1
		s.stats.AckedSeq = ackedSeq
	}
	if s.stats.AckedSeq >= s.nextSeq {
		// The acked file is ahead of the data (data lost to corruption):
		// trust the data, and say so on disk before new records take
		// those numbers.
		s.stats.AckedSeq = s.nextSeq - 1
	}
	if s.stats.AckedSeq != ackedSeq {
		s.ackDirty = true
		if err := s.saveAcked(); err != nil {
			return err
		}
	}
	// Delete segments that are wholly acknowledged, then find the first
	// unacknowledged record.
	for len(s.segs) > 1 && s.segs[0].first+s.segs[0].count-1 <= s.stats.AckedSeq {
		s.removeOldest()
	}
	if len(s.segs) == 0 {
		return s.startSegment()
	}
	p, err := s.seek(s.stats.AckedSeq + 1)
	if err != nil {
		return err
	}
	s.acked, s.read = p, p
	tail := s.segs[len(s.segs)-1]
	w, err := os.OpenFile(tail.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", tail.path, err)
	}
	s.w = w
	for _, seg := range s.segs {
		if end := seg.first + seg.count; end-1 > s.stats.AckedSeq {
			s.stats.Pending += end - max(seg.first, s.stats.AckedSeq+1)
		}
	}
	s.stats.NextSeq = s.nextSeq
	return nil
}

// scan validates a segment's records, counting them and truncating the
// file at the first invalid one. limit, if not 0, is how many records the
// next segment's name leaves room for.
func (s *Spool) scan(seg *segment, limit uint64) error {
	f, err := os.OpenFile(seg.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", seg.path, err)
	}
	defer f.Close()
	count, valid, err := scanRecords(f, s.opts.MaxRecord, limit)
	if err != nil {
		return fmt.Errorf("spool: read %s: %w", seg.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("spool: stat %s: %w", seg.path, err)
	}
	if valid < fi.Size() {
		s.opts.Logger.Warn("spool: cutting off a torn or corrupt segment tail",
			"segment", filepath.Base(seg.path), "valid_bytes", valid, "size", fi.Size(), "records", count)
		if err := f.Truncate(valid); err != nil {
			return fmt.Errorf("spool: truncate %s: %w", seg.path, err)
		}
		if limit == 0 {
			// In the tail we cannot know how many records were lost; at
			// least one was.
			s.stats.Corrupt++
		}
	}
	seg.count, seg.size = count, valid
	return nil
}

// scanRecords reads framed records from r and returns how many are valid
// and the offset just past the last valid one. It stops at the first
// invalid frame, or after limit records when limit is not 0.
func scanRecords(r io.Reader, maxRecord int, limit uint64) (count uint64, valid int64, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [headerLen]byte
	buf := make([]byte, 0, 4096)
	for limit == 0 || count < limit {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return count, valid, nil
			}
			return count, valid, err
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n == 0 || n > uint32(maxRecord) {
			return count, valid, nil
		}
		buf = slices.Grow(buf[:0], int(n))[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return count, valid, nil
			}
			return count, valid, err
		}
		if crc32.Checksum(buf, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return count, valid, nil
		}
		count++
		valid += headerLen + int64(n)
	}
	return count, valid, nil
}

// seek finds where record seq starts (seq must be within the spool, or
// nextSeq for "after everything").
func (s *Spool) seek(seq uint64) (pos, error) {
	for _, seg := range s.segs {
		if seq >= seg.first+seg.count {
			continue
		}
		if seq < seg.first {
			seq = seg.first
		}
		f, err := s.reader(seg)
		if err != nil {
			return pos{}, err
		}
		off := int64(0)
		var hdr [headerLen]byte
		for cur := seg.first; cur < seq; cur++ {
			if _, err := f.ReadAt(hdr[:], off); err != nil {
				return pos{}, fmt.Errorf("spool: seek in %s: %w", seg.path, err)
			}
			off += headerLen + int64(binary.LittleEndian.Uint32(hdr[0:4]))
		}
		return pos{seq: seq, seg: seg.first, off: off}, nil
	}
	tail := s.segs[len(s.segs)-1]
	return pos{seq: s.nextSeq, seg: tail.first, off: tail.size}, nil
}

func (s *Spool) reader(seg *segment) (*os.File, error) {
	if seg.rd == nil {
		f, err := os.Open(seg.path)
		if err != nil {
			return nil, fmt.Errorf("spool: open %s: %w", seg.path, err)
		}
		seg.rd = f
	}
	return seg.rd, nil
}

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

func (s *Spool) readAcked() uint64 {
	b, err := os.ReadFile(filepath.Join(s.opts.Dir, ackedFile))
	if err != nil {
		return 0
	}
	seq, ok := parseAcked(b)
	if !ok {
		s.opts.Logger.Warn("spool: ignoring a corrupt acknowledgement file; records may be sent again")
		return 0
	}
	return seq
}

func parseAcked(b []byte) (uint64, bool) {
	if len(b) != ackedLen || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[:8]), true
}

func encodeAcked(seq uint64) []byte {
	b := make([]byte, ackedLen)
	binary.LittleEndian.PutUint64(b, seq)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	return b
}

// startSegment begins a new tail segment whose first record is nextSeq.
func (s *Spool) startSegment() error {
	if s.w != nil {
		if err := s.w.Sync(); err != nil {
			return fmt.Errorf("spool: sync segment: %w", err)
		}
		if err := s.w.Close(); err != nil {
			return fmt.Errorf("spool: close segment: %w", err)
		}
		s.w = nil
	}
	seg := &segment{first: s.nextSeq, path: filepath.Join(s.opts.Dir, segName(s.nextSeq))}
	w, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	s.w = w
	s.segs = append(s.segs, seg)
	syncDir(s.opts.Dir)
	if len(s.segs) == 1 {
		s.read = pos{seq: s.nextSeq, seg: seg.first}
		s.acked = s.read
	}
	s.stats.NextSeq = s.nextSeq
	return nil
}

// removeOldest deletes the first segment, moving the cursors past it and
// counting its unacknowledged records as dropped.
func (s *Spool) removeOldest() {
	seg := s.segs[0]
	end := seg.first + seg.count // first seq after it
	if end-1 > s.stats.AckedSeq {
		lost := end - 1 - s.stats.AckedSeq
		if s.stats.AckedSeq+1 < seg.first {
			lost = seg.count
		}
		s.stats.Dropped += lost
		s.stats.Pending -= min(lost, s.stats.Pending)
		s.stats.AckedSeq = end - 1
		s.ackDirty = true
	}
	if seg.rd != nil {
		seg.rd.Close()
	}
	if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.opts.Logger.Warn("spool: remove segment", "segment", filepath.Base(seg.path), "err", err)
	}
	s.total -= seg.size
	s.segs = s.segs[1:]
	// Callers keep at least one segment.
	next := pos{seq: end, seg: s.segs[0].first}
	if s.read.seg == seg.first {
		s.read = next
	}
	if s.acked.seg == seg.first {
		s.acked = next
	}
	for len(s.inflight) > 0 && s.inflight[0].seg == seg.first {
		s.inflight = s.inflight[1:]
	}
}

// NextSeq is the sequence number the next appended record will get.
func (s *Spool) NextSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextSeq
}

// Append writes records at the end of the spool, in order, and returns the
// sequence number of the first. It drops the oldest segments when the size
// cap requires it. The data reaches the operating system before Append
// returns (it survives the process being killed); Sync makes it durable
// against power loss.
func (s *Spool) Append(recs ...[]byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	for _, r := range recs {
		if len(r) == 0 || len(r) > s.opts.MaxRecord {
			return 0, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(r), s.opts.MaxRecord)
		}
	}
	first := s.nextSeq
	var buf []byte
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		tail := s.segs[len(s.segs)-1]
		if _, err := s.w.Write(buf); err != nil {
			// Cut off what was partly written so the file stays framed.
			_ = s.w.Truncate(tail.size)
			return fmt.Errorf("spool: write %s: %w", filepath.Base(tail.path), err)
		}
		added := uint64(countFrames(buf))
		tail.size += int64(len(buf))
		tail.count += added
		s.total += int64(len(buf))
		s.nextSeq += added
		s.stats.Appended += added
		s.stats.Pending += added
		s.stats.NextSeq = s.nextSeq
		s.dirty = true
		buf = buf[:0]
		return nil
	}
	for _, r := range recs {
		need := int64(headerLen + len(r))
		tail := s.segs[len(s.segs)-1]
		if tail.size+int64(len(buf))+need > s.opts.SegmentBytes && tail.size+int64(len(buf)) > 0 {
			if err := flush(); err != nil {
				return first, err
			}
			if err := s.startSegment(); err != nil {
				return first, err
			}
		}
		// Make room: the cap counts the bytes about to be written.
		for s.total+int64(len(buf))+need > s.opts.MaxBytes && len(s.segs) > 1 {
			s.opts.Logger.Warn("spool: full, dropping the oldest segment",
				"segment", filepath.Base(s.segs[0].path), "records", s.segs[0].count)
			s.removeOldest()
		}
		var hdr [headerLen]byte
		binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(r)))
		binary.LittleEndian.PutUint32(hdr[4:8], crc32.Checksum(r, castagnoli))
		buf = append(buf, hdr[:]...)
		buf = append(buf, r...)
	}
	if err := flush(); err != nil {
		return first, err
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return first, nil
}

// countFrames counts the records in a buffer of well-formed frames.
func countFrames(b []byte) int {
	n := 0
	for len(b) >= headerLen {
		l := int(binary.LittleEndian.Uint32(b))
		b = b[headerLen+l:]
		n++
	}
	return n
}

// Appended returns a channel that receives a value after records are
// appended: a reader that found nothing waits on it.
func (s *Spool) Appended() <-chan struct{} { return s.notify }

// Read returns up to max records (and, past the first, at most maxBytes of
// data) from the read cursor, and advances it. It returns nothing when the
// reader has caught up with the writer.
func (s *Spool) Read(max int, maxBytes int) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var out []Entry
	size := 0
	for len(out) < max && s.read.seq < s.nextSeq {
		i := s.segIndex(s.read.seg)
		if i < 0 {
			return out, fmt.Errorf("spool: record %d has no segment", s.read.seq)
		}
		seg := s.segs[i]
		if s.read.seq == seg.first+seg.count {
			if i+1 == len(s.segs) {
				break
			}
			// Sequence numbers lost to corruption leave a gap here.
			next := s.segs[i+1].first
			s.read = pos{seq: next, seg: next}
			continue
		}
		f, err := s.reader(seg)
		if err != nil {
			return out, err
		}
		var hdr [headerLen]byte
		if _, err := f.ReadAt(hdr[:], s.read.off); err != nil {
			return out, fmt.Errorf("spool: read %s at %d: %w", filepath.Base(seg.path), s.read.off, err)
		}
		n := int(binary.LittleEndian.Uint32(hdr[0:4]))
		if n > s.opts.MaxRecord {
			return out, fmt.Errorf("spool: record %d in %s changed on disk (length)", s.read.seq, filepath.Base(seg.path))
		}
		if len(out) > 0 && size+n > maxBytes {
			break
		}
		data := make([]byte, n)
		if _, err := f.ReadAt(data, s.read.off+headerLen); err != nil {
			return out, fmt.Errorf("spool: read %s at %d: %w", filepath.Base(seg.path), s.read.off, err)
		}
		if crc32.Checksum(data, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return out, fmt.Errorf("spool: record %d in %s changed on disk (checksum)", s.read.seq, filepath.Base(seg.path))
		}
		out = append(out, Entry{Seq: s.read.seq, Data: data})
		size += n
		next := pos{seq: s.read.seq + 1, seg: seg.first, off: s.read.off + headerLen + int64(n)}
		s.inflight = append(s.inflight, next)
		s.read = next
	}
	return out, nil
}

func (s *Spool) segIndex(first uint64) int {
	for i, seg := range s.segs {
		if seg.first == first {
			return i
		}
	}
	return -1
}

// Rewind moves the read cursor back to the first unacknowledged record, so
// that the records handed out but not acknowledged are read again.
func (s *Spool) Rewind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = s.acked
	s.inflight = s.inflight[:0]
}

// Ack acknowledges every record up to seq (which Read must have handed
// out) and deletes the segments that are then wholly acknowledged.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if seq <= s.stats.AckedSeq {
		return nil // already acknowledged or dropped
	}
	i := 0
	for i < len(s.inflight) && s.inflight[i].seq <= seq+1 {
		i++
	}
	if i == 0 || s.inflight[i-1].seq != seq+1 {
		return fmt.Errorf("spool: acknowledging record %d, which was not read", seq)
	}
	s.acked = s.inflight[i-1]
	s.inflight = s.inflight[i:]
	done := uint64(i) // one inflight entry per record read
	s.stats.Acked += done
	s.stats.Pending -= min(done, s.stats.Pending)
	s.stats.AckedSeq = seq
	s.ackDirty = true
	removed := false
	for len(s.segs) > 1 && s.segs[0].first+s.segs[0].count-1 <= seq {
		s.removeOldest()
		removed = true
	}
	if removed || time.Since(s.lastSave) >= ackPersist {
		return s.saveAcked()
	}
	return nil
}

func (s *Spool) saveAcked() error {
	if !s.ackDirty {
		return nil
	}
	tmp := filepath.Join(s.opts.Dir, ackedTmp)
	if err := os.WriteFile(tmp, encodeAcked(s.stats.AckedSeq), 0o600); err != nil {
		return fmt.Errorf("spool: save acknowledgements: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.opts.Dir, ackedFile)); err != nil {
		return fmt.Errorf("spool: save acknowledgements: %w", err)
	}
	s.lastSave = time.Now()
	s.ackDirty = false
	return nil
}

// Sync makes appended records and the acknowledged position durable.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.syncLocked()
}

func (s *Spool) syncLocked() error {
	if s.dirty {
		if err := s.w.Sync(); err != nil {
			return fmt.Errorf("spool: sync: %w", err)
		}
		s.dirty = false
	}
	return s.saveAcked()
}

// Stats returns the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Bytes = s.total
	st.Segments = len(s.segs)
	return st
}

// Close syncs and closes the spool.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	err := s.syncLocked()
	s.closed = true
	s.closeFiles()
	return err
}

func (s *Spool) closeFiles() {
	for _, seg := range s.segs {
		if seg.rd != nil {
			seg.rd.Close()
			seg.rd = nil
		}
	}
	if s.w != nil {
		s.w.Close()
		s.w = nil
	}
}

// syncDir makes a file creation durable; errors are ignored because not
// every file system supports syncing a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
