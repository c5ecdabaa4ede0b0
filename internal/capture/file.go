package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/heir-emd/heir/internal/packet"
)

// reader is one open capture file.
type reader struct {
	name  string
	f     *os.File
	pcap  *pcapgo.Reader
	ng    *pcapgo.NgReader
	link  packet.LinkType
	frame uint64
}

const pcapngMagic = 0x0a0d0d0a

// openReader opens path as a pcap or pcapng file, gzip-compressed or not.
func openReader(path string) (*reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := newReader(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.f = f
	return r, nil
}

func newReader(name string, in io.Reader) (*reader, error) {
	br := bufio.NewReaderSize(in, 1<<20)
	var src io.Reader = br
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w (%d bytes)", ErrNotCapture, len(magic))
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		gbr := bufio.NewReaderSize(gz, 1<<20)
		if magic, err = gbr.Peek(4); err != nil {
			return nil, fmt.Errorf("%w (inside gzip)", ErrNotCapture)
		}
		src = gbr
	}
	r := &reader{name: name}
	switch m := binary.LittleEndian.Uint32(magic); m {
	case pcapngMagic:
		ng, err := pcapgo.NewNgReader(src, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, fmt.Errorf("pcapng: %w", err)
		}
		r.ng = ng
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		pr, err := pcapgo.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("pcap: %w", err)
		}
		r.pcap = pr
		r.link = packet.LinkType(pr.LinkType())
	default:
		return nil, fmt.Errorf("%w (magic %08x)", ErrNotCapture, m)
	}
	return r, nil
}

// next reads the next packet into p. It returns io.EOF at the end and
// another error when the file is damaged.
func (r *reader) next(p *Packet) error {
	var (
		data []byte
		ci   gopacket.CaptureInfo
		err  error
	)
	if r.ng != nil {
		data, ci, err = r.ng.ZeroCopyReadPacketData()
	} else {
		data, ci, err = r.pcap.ZeroCopyReadPacketData()
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("truncated after packet %d: %w", r.frame, err)
		}
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("after packet %d: %w", r.frame, err)
	}
	r.frame++
	p.Data = data
	p.Time = ci.Timestamp
	p.WireLen = ci.Length
	if p.WireLen < len(data) {
		p.WireLen = len(data)
	}
	p.Frame = r.frame
	if r.ng != nil {
		p.LinkType = packet.LinkType(0xffff)
		if len(ci.AncillaryData) > 0 {
			if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
				p.LinkType = packet.LinkType(lt)
			}
		}
	} else {
		p.LinkType = r.link
	}
	return nil
}

func (r *reader) close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

// Files reads capture files and directories of them as one stream in time
// order. Directories are searched recursively for files that are captures.
type Files struct {
	inputs  []*input
	pending []*input // not yet opened, by first packet time
	active  inputHeap
	stats   []InputStats
	n       uint64
	last    *input // gave the packet returned last
}

type input struct {
	index int
	path  string
	first time.Time
	r     *reader
	pkt   Packet // the input's next packet
	pos   int    // index in the heap
}

// OpenFiles prepares to read paths (files or directories). A path that
// cannot be read is an error; inside directories, files that are not
// captures are skipped.
func OpenFiles(paths []string) (*Files, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var inDir []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && isCaptureName(path) {
				inDir = append(inDir, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(inDir)
		files = append(files, inDir...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no capture files in %v", paths)
	}
	s := &Files{}
	for i, path := range files {
		in := &input{index: i, path: path}
		s.stats = append(s.stats, InputStats{Name: path})
		r, err := openReader(path)
		if err != nil {
			if explicit(path, paths) {
				s.closeAll()
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			s.stats[i].Error = err.Error()
			continue
		}
		if err := r.next(&in.pkt); err != nil {
			if err != io.EOF {
				s.stats[i].Error = err.Error()
			}
			r.close()
			continue
		}
		in.first = in.pkt.Time
		r.close() // reopened when its time comes, to bound open files
		s.inputs = append(s.inputs, in)
	}
	s.pending = append([]*input(nil), s.inputs...)
	sort.SliceStable(s.pending, func(i, j int) bool { return s.pending[i].first.Before(s.pending[j].first) })
	return s, nil
}

func explicit(path string, args []string) bool {
	for _, a := range args {
		if a == path {
			return true
		}
	}
	return false
}

// isCaptureName says whether a file in a directory looks like a capture by
// its name; its content is checked when it is opened.
func isCaptureName(path string) bool {
	base := filepath.Base(path)
	for _, ext := range []string{".gz", ".gzip"} {
		if e := filepath.Ext(base); e == ext {
			base = base[:len(base)-len(e)]
		}
	}
	switch filepath.Ext(base) {
	case ".pcap", ".pcapng", ".cap", ".dmp", ".ntar", ".pcap0", ".pcap1":
		return true
	}
	return false
}

// Next returns the packet with the earliest time among the inputs.
func (s *Files) Next(ctx context.Context) (*Packet, error) {
	s.n++
	if s.n&1023 == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	// The input that gave the previous packet reads its next one only now:
	// reading zero-copy invalidates the data handed out before.
	if in := s.last; in != nil {
		s.last = nil
		if err := in.r.next(&in.pkt); err != nil {
			if err != io.EOF {
				s.stats[in.index].Error = err.Error()
			}
			in.r.close()
			heap.Remove(&s.active, in.pos)
		} else {
			in.pkt.Input = in.index
			heap.Fix(&s.active, in.pos)
		}
	}
	// Open the files whose first packet is due.
	for len(s.pending) > 0 && (len(s.active) == 0 || !s.active[0].pkt.Time.Before(s.pending[0].first)) {
		in := s.pending[0]
		s.pending = s.pending[1:]
		if s.open(in) {
			heap.Push(&s.active, in)
		}
	}
	if len(s.active) == 0 {
		return nil, io.EOF
	}
	in := s.active[0]
	st := &s.stats[in.index]
	st.Packets++
	st.Bytes += uint64(in.pkt.WireLen)
	s.last = in
	return &in.pkt, nil
}

// open reopens in and reads its first packet again.
func (s *Files) open(in *input) bool {
	r, err := openReader(in.path)
	if err != nil {
		s.stats[in.index].Error = err.Error()
		return false
	}
	if err := r.next(&in.pkt); err != nil {
		if err != io.EOF {
			s.stats[in.index].Error = err.Error()
		}
		r.close()
		return false
	}
	in.pkt.Input = in.index
	in.r = r
	return true
}

// Stats returns per-file counters; Error is set for files that were
// damaged or not captures.
func (s *Files) Stats() []InputStats { return append([]InputStats(nil), s.stats...) }

// Names returns the input file names, indexed like Packet.Input.
func (s *Files) Names() []string {
	out := make([]string, len(s.stats))
	for i, st := range s.stats {
		out[i] = st.Name
	}
	return out
}

// Close closes any open files.
func (s *Files) Close() error {
	s.closeAll()
	return nil
}

func (s *Files) closeAll() {
	for _, in := range s.active {
		in.r.close()
	}
	s.active = nil
	s.pending = nil
}

// inputHeap orders open inputs by the time of their read-ahead packet,
// then by input order so that equal times keep a stable order.
type inputHeap []*input

func (h inputHeap) Len() int { return len(h) }
func (h inputHeap) Less(i, j int) bool {
	if h[i].pkt.Time.Equal(h[j].pkt.Time) {
		return h[i].index < h[j].index
	}
	return h[i].pkt.Time.Before(h[j].pkt.Time)
}
func (h inputHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos = i
	h[j].pos = j
}
func (h *inputHeap) Push(x any) {
	in := x.(*input)
	in.pos = len(*h)
	*h = append(*h, in)
}
func (h *inputHeap) Pop() any {
	old := *h
	in := old[len(old)-1]
	*h = old[:len(old)-1]
	return in
}

// ReadAll reads every packet of src into memory, each with its own copy
// of the data: for replays at a fixed rate and for benchmarks, where
// reading the file must not be part of what is measured.
func ReadAll(ctx context.Context, src Source) ([]Packet, error) {
	var out []Packet
	for {
		p, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		q := *p
		q.Data = bytes.Clone(p.Data)
		out = append(out, q)
	}
}

// ReadFiles opens captures as OpenFiles does and reads them whole with
// ReadAll.
func ReadFiles(ctx context.Context, paths ...string) ([]Packet, error) {
	src, err := OpenFiles(paths)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return ReadAll(ctx, src)
}
