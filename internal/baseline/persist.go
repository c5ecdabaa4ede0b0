package baseline

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// FileVersion is the version of the baseline file format (docs/baselines.md).
const FileVersion = 1

// FileType is the file's "type".
const FileType = "baseline"

// maxFile bounds what Load reads: far above what the default limits can
// write (16,384 devices at their largest), far below what would hurt.
const maxFile = 1 << 30

// maxLog bounds the learned values a file may carry, on the log1p scale:
// e^100 is more than any byte count or time.
const maxLog = 100

type file struct {
	V     int       `json:"v"`
	Type  string    `json:"type"`
	Saved time.Time `json:"saved,omitzero"` // capture time of the save
	Epoch time.Time `json:"epoch,omitzero"`
	// Window is the window length the window statistics were learnt
	// with; another length makes them meaningless, and Load drops them.
	Window  string       `json:"window"`
	Devices []fileDevice `json:"devices"`
}

type fileDevice struct {
	IP         netip.Addr        `json:"ip"`
	MAC        string            `json:"mac,omitempty"`
	First      time.Time         `json:"first"`
	Last       time.Time         `json:"last"`
	LearnFrom  time.Time         `json:"learn_from"`
	LearnUntil time.Time         `json:"learn_until"`
	Learning   bool              `json:"learning,omitempty"`
	LearnedAt  time.Time         `json:"learned_at,omitzero"`
	Flows      uint64            `json:"flows"`
	Served     bool              `json:"served,omitempty"`
	Hub        bool              `json:"hub,omitempty"`
	Peers      []fileValue       `json:"peers,omitempty"`
	Services   []fileService     `json:"services,omitempty"`
	Kinds      []fileValue       `json:"kinds,omitempty"`
	MACs       []fileValue       `json:"macs,omitempty"`
	WindowIdx  int64             `json:"window_index"`
	Counts     [numWin]uint64    `json:"window_counts"`
	WStats     [numWin]*fileStat `json:"window_stats"`
}

type fileValue struct {
	Key   string    `json:"k"`
	Label string    `json:"v"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	N     uint32    `json:"n"`
	Prov  bool      `json:"provisional,omitempty"`
}

type fileService struct {
	fileValue
	Proto     string    `json:"proto,omitempty"`
	Sent      *fileStat `json:"sent,omitempty"`
	Recv      *fileStat `json:"recv,omitempty"`
	Gap       *fileStat `json:"gap,omitempty"`
	LastStart time.Time `json:"last_start,omitzero"`
}

type fileStat struct {
	N        uint32    `json:"n"`
	Seeded   bool      `json:"seeded,omitempty"`
	M        float64   `json:"m,omitempty"`
	S        float64   `json:"s,omitempty"`
	Hi       float64   `json:"hi,omitempty"`
	Lo       float64   `json:"lo,omitempty"`
	Seed     []float32 `json:"seed,omitempty"`
	Out      float32   `json:"out,omitempty"`
	OutSince time.Time `json:"out_since,omitzero"`
}

func tm(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func tn(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Save writes everything learnt as versioned JSON. Open alerts are not
// saved: call Flush first to end them. Call it from the goroutine that
// feeds the baseline.
func (b *Baseline) Save(w io.Writer) error {
	f := file{V: FileVersion, Type: FileType, Saved: b.now.UTC(), Epoch: tm(b.epoch), Window: b.cfg.Window.String()}
	if b.now.IsZero() {
		f.Saved = time.Time{}
	}
	f.Devices = make([]fileDevice, 0, len(b.devices))
	for _, d := range b.devices {
		fd := fileDevice{IP: d.addr, MAC: d.mac, First: tm(d.first), Last: tm(d.last), LearnFrom: tm(d.learnFrom),
			LearnUntil: tm(d.learnUntil), Learning: d.learning, LearnedAt: tm(d.learnedAt), Flows: d.flows, Served: d.served, Hub: d.hub,
			Peers: saveSet(&d.peers), Kinds: saveSet(&d.kinds), MACs: saveSet(&d.macs), WindowIdx: d.win, Counts: d.counts}
		for i := range d.wstat {
			fd.WStats[i] = saveStat(&d.wstat[i])
		}
		for _, e := range sortedEntries(&d.services) {
			fd.Services = append(fd.Services, fileService{fileValue: saveValue(e), Proto: e.val.proto,
				Sent: saveStat(&e.val.sent), Recv: saveStat(&e.val.recv), Gap: saveStat(&e.val.gap),
				LastStart: tm(e.val.lastStart)})
		}
		f.Devices = append(f.Devices, fd)
	}
	slices.SortFunc(f.Devices, func(x, y fileDevice) int { return x.IP.Compare(y.IP) })
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(&f); err != nil {
		return fmt.Errorf("save baseline: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("save baseline: %w", err)
	}
	return nil
}

func sortedEntries[T any](s *catSet[T]) []*entry[T] {
	out := make([]*entry[T], 0, len(s.m))
	for _, e := range s.m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(x, y *entry[T]) int { return cmp.Or(cmp.Compare(x.label, y.label), cmp.Compare(x.key, y.key)) })
	return out
}

func saveValue[T any](e *entry[T]) fileValue {
	return fileValue{Key: strconv.FormatUint(e.key, 16), Label: e.label, First: tm(e.first), Last: tm(e.last), N: e.n, Prov: e.prov}
}

func saveSet[T any](s *catSet[T]) []fileValue {
	var out []fileValue
	for _, e := range sortedEntries(s) {
		out = append(out, saveValue(e))
	}
	return out
}

func saveStat(r *robust) *fileStat {
	if r.n == 0 {
		return nil
	}
	fs := &fileStat{N: r.n, Seeded: r.seeded, M: r.m, S: r.s, Hi: r.hi, Lo: r.lo, Out: r.out, OutSince: tm(r.outSince)}
	if !r.seeded && r.seed != nil {
		fs.Seed = append([]float32(nil), r.seed[:r.ns]...)
	}
	return fs
}

// SaveFile writes the baseline to path atomically (a temporary file in
// the same folder, synced, then renamed), so that a crash leaves the old
// file or the new one, never half of one.
func (b *Baseline) SaveFile(path string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save baseline %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := b.Save(tmp); err != nil {
		return fmt.Errorf("save baseline %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save baseline %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save baseline %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save baseline %s: %w", path, err)
	}
	ok = true
	return nil
}

// LoadFile reads a baseline saved by SaveFile. A missing file is an
// error that wraps os.ErrNotExist (a first start: learn from scratch).
func (b *Baseline) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load baseline: %w", err)
	}
	defer f.Close()
	if err := b.Load(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Load replaces what the baseline holds with a saved one. Open alerts
// end first. The file is checked in full before anything is replaced: on
// error the baseline is unchanged. Devices outside the home networks,
// and values beyond the limits (the least recent), are left out; window
// statistics learnt with another window length are dropped.
func (b *Baseline) Load(r io.Reader) error {
	dec := json.NewDecoder(io.LimitReader(r, maxFile))
	var f file
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("load baseline: %w", err)
	}
	if f.Type != FileType {
		return fmt.Errorf("load baseline: type %q, want %q", f.Type, FileType)
	}
	if f.V != FileVersion {
		return fmt.Errorf("load baseline: version %d, this heir reads version %d", f.V, FileVersion)
	}
	sameWindow := f.Window == b.cfg.Window.String()
	devs := make(map[netip.Addr]*device, len(f.Devices))
	for i := range f.Devices {
		fd := &f.Devices[i]
		d, err := b.loadDevice(fd, sameWindow)
		if err != nil {
			return fmt.Errorf("load baseline: device %d (%v): %w", i, fd.IP, err)
		}
		if d == nil {
			continue
		}
		if devs[d.addr] != nil {
			return fmt.Errorf("load baseline: device %v twice", d.addr)
		}
		devs[d.addr] = d
	}
	list := make([]*device, 0, len(devs))
	for _, d := range devs {
		list = append(list, d)
	}
	// Least recent first, so that the most recent end at the front of the
	// LRU list; beyond MaxDevices the least recent are left out.
	slices.SortFunc(list, func(x, y *device) int { return cmp.Or(cmp.Compare(x.last, y.last), x.addr.Compare(y.addr)) })
	if n := len(list) - b.cfg.Limits.MaxDevices; n > 0 {
		list = list[n:]
	}
	b.Flush()
	b.devices = make(map[netip.Addr]*device, len(list))
	b.lists = [2]dlist{}
	for _, d := range list {
		b.devices[d.addr] = d
		b.relist(d)
	}
	b.epoch = tn(f.Epoch)
	if s := f.Saved; s.After(b.now) {
		b.now = s
	}
	b.log.Info("baseline loaded", "devices", len(list), "saved", f.Saved, "window_stats_kept", sameWindow)
	return nil
}

func (b *Baseline) loadDevice(fd *fileDevice, sameWindow bool) (*device, error) {
	if !fd.IP.IsValid() {
		return nil, errors.New("no address")
	}
	a := fd.IP.Unmap()
	if !b.home(a) {
		return nil, nil
	}
	if !validText(fd.MAC) || len(fd.MAC) > maxLabel {
		return nil, errors.New("bad MAC")
	}
	d := &device{addr: a, mac: fd.MAC, first: tn(fd.First), last: tn(fd.Last), learnFrom: tn(fd.LearnFrom),
		learnUntil: tn(fd.LearnUntil), learning: fd.Learning, learnedAt: tn(fd.LearnedAt), flows: fd.Flows, served: fd.Served, hub: fd.Hub}
	lim := b.cfg.Limits
	var err error
	if err = loadSet(&d.peers, fd.Peers, lim.MaxPeers, nil); err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	if err = loadSet(&d.kinds, fd.Kinds, lim.MaxKinds, nil); err != nil {
		return nil, fmt.Errorf("kinds: %w", err)
	}
	if err = loadSet(&d.macs, fd.MACs, lim.MaxMACs, nil); err != nil {
		return nil, fmt.Errorf("macs: %w", err)
	}
	vals := make([]fileValue, len(fd.Services))
	for i := range fd.Services {
		vals[i] = fd.Services[i].fileValue
	}
	err = loadSet(&d.services, vals, lim.MaxServices, func(i int, ch *channel) error {
		s := &fd.Services[i]
		if !validText(s.Proto) || len(s.Proto) > maxLabel {
			return errors.New("bad protocol")
		}
		ch.proto = s.Proto
		ch.lastStart = tn(s.LastStart)
		for _, x := range []struct {
			fs *fileStat
			r  *robust
		}{{s.Sent, &ch.sent}, {s.Recv, &ch.recv}, {s.Gap, &ch.gap}} {
			if err := loadStat(x.r, x.fs); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	if sameWindow {
		d.win, d.counts = fd.WindowIdx, fd.Counts
		for i := range d.wstat {
			if err := loadStat(&d.wstat[i], fd.WStats[i]); err != nil {
				return nil, fmt.Errorf("window statistics: %w", err)
			}
		}
	} else {
		d.win = d.last / int64(b.cfg.Window)
	}
	d.setLimits(&b.p)
	return d, nil
}

// loadSet fills a set from saved values, keeping the max most recent.
func loadSet[T any](s *catSet[T], vals []fileValue, max int, val func(i int, v *T) error) error {
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return vals[y].Last.Compare(vals[x].Last) })
	if len(idx) > max {
		idx = idx[:max]
	}
	s.m = make(map[uint64]*entry[T], len(idx))
	for _, i := range idx {
		v := &vals[i]
		key, err := strconv.ParseUint(v.Key, 16, 64)
		if err != nil {
			return fmt.Errorf("value %d: key %q is not a hexadecimal number", i, v.Key)
		}
		if v.Label == "" || len(v.Label) > maxLabel || !validText(v.Label) {
			return fmt.Errorf("value %d: bad text", i)
		}
		if s.m[key] != nil {
			return fmt.Errorf("value %d: key %s twice", i, v.Key)
		}
		e := &entry[T]{key: key, label: v.Label, first: tn(v.First), last: tn(v.Last), n: v.N, prov: v.Prov}
		if val != nil {
			if err := val(i, &e.val); err != nil {
				return fmt.Errorf("value %d: %w", i, err)
			}
		}
		s.m[key] = e
	}
	return nil
}

func loadStat(r *robust, fs *fileStat) error {
	*r = robust{}
	if fs == nil {
		return nil
	}
	ok := func(x float64) bool { return !math.IsNaN(x) && x >= -maxLog && x <= maxLog }
	if !ok(fs.M) || !ok(fs.S) || fs.S < 0 || !ok(fs.Hi) || !ok(fs.Lo) || fs.Lo > fs.Hi {
		return errors.New("statistic out of range")
	}
	if o := float64(fs.Out); math.IsNaN(o) || o < 0 || o > 1 {
		return errors.New("anomaly rate out of range")
	}
	if fs.Seeded && len(fs.Seed) > 0 || len(fs.Seed) >= seedN || uint32(len(fs.Seed)) > fs.N {
		return errors.New("bad seed")
	}
	*r = robust{n: fs.N, seeded: fs.Seeded, m: fs.M, s: fs.S, hi: fs.Hi, lo: fs.Lo, out: fs.Out, outSince: tn(fs.OutSince)}
	if len(fs.Seed) > 0 {
		r.seed = new([seedN]float32)
		for i, v := range fs.Seed {
			if !ok(float64(v)) {
				return errors.New("seed value out of range")
			}
			r.seed[i] = v
		}
		r.ns = uint8(len(fs.Seed))
	}
	return nil
}

// validText accepts UTF-8 without control characters: what heir writes.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
