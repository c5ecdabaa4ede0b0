package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heir-emd/heir/internal/packet"
)

// LiveOptions tune live capture. Zero fields take the defaults in
// DefaultLiveOptions.
type LiveOptions struct {
	// SnapLen is the most bytes kept of each packet; the kernel cuts the
	// rest before the packet reaches the ring.
	SnapLen int
	// Promiscuous asks for every frame on the wire, not only those
	// addressed to the host: what a SPAN or TAP port needs. The setting is
	// a socket membership, so the kernel undoes it when capture stops.
	Promiscuous bool
	// BlockSize, NumBlocks and FrameSize shape each interface's TPACKET_V3
	// ring: NumBlocks blocks of BlockSize bytes (a multiple of the page
	// size) shared with the kernel. FrameSize must divide BlockSize; with
	// V3 it only sizes the kernel's bookkeeping, packets are packed in
	// blocks whatever their length.
	BlockSize int
	NumBlocks int
	FrameSize int
	// BlockTimeout is how long the kernel fills a block before handing it
	// over part-full; it bounds the delay of packets on a quiet link.
	BlockTimeout time.Duration
	// FlushInterval is how long a reader keeps a part-full batch before
	// handing it over anyway, and how often it wakes when idle.
	FlushInterval time.Duration
	// BatchBytes and BatchPackets size the batches readers copy packets
	// into; QueueBatches is how many batches per interface may wait for
	// the consumer. When they are all waiting, new batches are dropped and
	// counted: capture never waits for the consumer.
	BatchBytes   int
	BatchPackets int
	QueueBatches int
}

// DefaultLiveOptions are the settings a zero LiveOptions stands for: a
// 32 MiB ring and about 9 MiB of batches per interface.
var DefaultLiveOptions = LiveOptions{
	SnapLen:       65535,
	BlockSize:     4 << 20,
	NumBlocks:     8,
	FrameSize:     4096,
	BlockTimeout:  10 * time.Millisecond,
	FlushInterval: 10 * time.Millisecond,
	BatchBytes:    256 << 10,
	BatchPackets:  512,
	QueueBatches:  32,
}

// vlanTagLen is the 802.1Q tag a reader puts back into frames whose tag
// the network card stripped.
const vlanTagLen = 4

func (o *LiveOptions) defaults() {
	d := DefaultLiveOptions
	setI := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setI(&o.SnapLen, d.SnapLen)
	setI(&o.BlockSize, d.BlockSize)
	setI(&o.NumBlocks, d.NumBlocks)
	setI(&o.FrameSize, d.FrameSize)
	setD(&o.BlockTimeout, d.BlockTimeout)
	setD(&o.FlushInterval, d.FlushInterval)
	setI(&o.BatchBytes, d.BatchBytes)
	setI(&o.BatchPackets, d.BatchPackets)
	setI(&o.QueueBatches, d.QueueBatches)
}

func (o *LiveOptions) validate(pageSize int) error {
	switch {
	case o.SnapLen < 64 || o.SnapLen > 1<<18:
		return fmt.Errorf("snap length %d: want 64 to %d bytes", o.SnapLen, 1<<18)
	case o.BlockSize%pageSize != 0:
		return fmt.Errorf("ring block size %d: must be a multiple of the page size %d", o.BlockSize, pageSize)
	case o.FrameSize < 128 || o.BlockSize%o.FrameSize != 0:
		return fmt.Errorf("ring frame size %d: must be at least 128 and divide the block size %d", o.FrameSize, o.BlockSize)
	case o.BlockSize < o.SnapLen+pageSize:
		return fmt.Errorf("ring block size %d: must exceed the snap length %d by a page", o.BlockSize, o.SnapLen)
	case o.BlockTimeout < time.Millisecond:
		return fmt.Errorf("block timeout %v: must be at least 1ms", o.BlockTimeout)
	case o.FlushInterval < time.Millisecond:
		return fmt.Errorf("flush interval %v: must be at least 1ms", o.FlushInterval)
	case o.BatchBytes < o.SnapLen+vlanTagLen:
		return fmt.Errorf("batch size %d bytes: must hold one packet of the snap length %d", o.BatchBytes, o.SnapLen)
	case o.QueueBatches > 4096 || o.BatchPackets > 1<<16:
		return fmt.Errorf("queue of %d batches of %d packets: too large", o.QueueBatches, o.BatchPackets)
	}
	return nil
}

// ring is one interface's packet source as the reader sees it: the
// AF_PACKET ring on Linux, a fake in tests.
type ring interface {
	// next returns the next packet, valid until the following call. vlan
	// is the tag the card stripped, or -1. It returns errRingTimeout when
	// nothing arrived within the flush interval.
	next() (data []byte, ts time.Time, wireLen int, vlan int, err error)
	// counters returns the kernel's counts of packets it received and
	// dropped for lack of ring space, since the ring was opened. They may
	// wrap at 2^32.
	counters() (received, dropped uint32, err error)
	// reopen replaces a ring that failed, as after the link went down, by
	// a new one on the same interface; its counters start again from zero.
	// It returns errInterfaceGone when there is no interface to reopen.
	reopen() error
	close()
}

var (
	errRingTimeout   = errors.New("no packet within the poll interval")
	errInterfaceGone = errors.New("interface gone")
)

// Reopen delays after a ring failed: a link that went down is retried at
// once, then less and less often.
const (
	reopenFirst = 100 * time.Millisecond
	reopenMax   = 5 * time.Second
)

// LiveStats count what happened to one interface's packets.
type LiveStats struct {
	Name     string
	LinkType packet.LinkType
	// Captured is how many packets the reader copied out of the ring.
	Captured uint64
	// Delivered is how many the consumer received through Next.
	Delivered uint64
	// KernelDrops were lost because the ring was full; QueueDrops were
	// copied but thrown away because the consumer's queue was full.
	KernelDrops uint64
	QueueDrops  uint64
	// Reopens counts how often the ring failed (the link went down) and
	// was opened again.
	Reopens uint64
	Error   string
}

// Live captures from network interfaces. Each interface has a reader
// goroutine that copies packets out of the kernel's ring into batches and
// queues them for Next; Next hands packets out in arrival order per
// interface, with no global time order across interfaces.
type Live struct {
	inputs []*liveInput
	queue  chan *batch
	ctx    context.Context
	cancel context.CancelFunc
	// done is closed when the last reader has stopped; running counts them.
	done    chan struct{}
	running atomic.Int32
	closed  atomic.Bool
	once    sync.Once

	cur *batch // the batch Next is handing out, owned by the consumer
	pos int
	pkt Packet
}

type liveInput struct {
	index    int
	name     string
	link     packet.LinkType
	ring     ring
	free     chan *batch // this interface's empty batches
	frame    uint64      // reader only
	opts     *LiveOptions
	captured atomic.Uint64
	queueDrp atomic.Uint64
	kernRecv atomic.Uint64
	kernDrop atomic.Uint64
	reopens  atomic.Uint64
	packets  atomic.Uint64 // delivered
	bytes    atomic.Uint64
	mu       sync.Mutex
	err      string
}

// batch holds copies of packets from one interface. Its buffers are
// allocated once and reused; the metadata is pointer-free so the garbage
// collector never scans it.
type batch struct {
	owner *liveInput
	buf   []byte
	used  int
	pkts  []batchPkt
	start time.Time // when its first packet was added
}

type batchPkt struct {
	off, len uint32
	wireLen  uint32
	ns       int64 // capture time, Unix nanoseconds
	frame    uint64
}

func newBatch(owner *liveInput, o *LiveOptions) *batch {
	return &batch{owner: owner, buf: make([]byte, o.BatchBytes), pkts: make([]batchPkt, 0, o.BatchPackets)}
}

func (b *batch) reset() {
	b.used = 0
	b.pkts = b.pkts[:0]
}

// room says whether a packet of n bytes fits.
func (b *batch) room(n int) bool {
	return len(b.pkts) < cap(b.pkts) && b.used+n <= len(b.buf)
}

// newLive wires readers for rings that are already open. Nothing runs
// until start.
func newLive(ctx context.Context, names []string, links []packet.LinkType, rings []ring, o LiveOptions) *Live {
	l := &Live{done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(ctx)
	total := 0
	for i := range rings {
		// Per interface: QueueBatches waiting, one being filled by the
		// reader and one being read by the consumer, so that the reader
		// always finds an empty batch without waiting.
		n := o.QueueBatches + 2
		in := &liveInput{index: i, name: names[i], link: links[i], ring: rings[i], free: make(chan *batch, n), opts: &o}
		for k := 0; k < n; k++ {
			in.free <- newBatch(in, &o)
		}
		total += n
		l.inputs = append(l.inputs, in)
	}
	// Room for every batch there is, so a reader's send never blocks.
	l.queue = make(chan *batch, total)
	return l
}

func (l *Live) start() {
	if len(l.inputs) == 0 {
		close(l.done)
		return
	}
	l.running.Store(int32(len(l.inputs)))
	for _, in := range l.inputs {
		go l.read(in)
	}
}

// read is one interface's reader. It owns the ring and closes it: closing
// it from elsewhere would unmap memory under a read in progress.
func (l *Live) read(in *liveInput) {
	defer func() {
		if l.running.Add(-1) == 0 {
			close(l.done)
		}
	}()
	defer in.ring.close()
	o := in.opts
	b := <-in.free
	var kc kernelCounters
	nextStats := time.Now().Add(time.Second)
	updateStats := func() {
		if recv, drop, err := in.ring.counters(); err == nil {
			dr, dd := kc.update(recv, drop)
			in.kernRecv.Add(dr)
			in.kernDrop.Add(dd)
		}
	}
	for l.ctx.Err() == nil {
		data, ts, wireLen, vlan, err := in.ring.next()
		now := time.Now()
		if err != nil && err != errRingTimeout {
			updateStats()
			in.setErr(fmt.Sprintf("capture on %s stopped: %v", in.name, err))
			if len(b.pkts) > 0 {
				b = l.handOver(in, b)
			}
			if !l.reopen(in) {
				break
			}
			kc = kernelCounters{}
			continue
		}
		if err == nil {
			in.frame++
			in.captured.Add(1)
			n := len(data)
			if n > o.SnapLen {
				n = o.SnapLen
			}
			tagged := vlan >= 0 && in.link == packet.LinkEthernet && n >= 12
			need := n
			if tagged {
				need += vlanTagLen
			}
			if !b.room(need) {
				b = l.handOver(in, b)
			}
			if len(b.pkts) == 0 {
				b.start = now
			}
			dst := b.buf[b.used : b.used+need]
			if tagged {
				// Put back the 802.1Q tag the card took off, behind the
				// two MAC addresses, so VLANs decode as on the wire.
				copy(dst, data[:12])
				dst[12], dst[13] = 0x81, 0x00
				dst[14], dst[15] = byte(vlan>>8)&0x0f, byte(vlan)
				copy(dst[16:], data[12:n])
				wireLen += vlanTagLen
			} else {
				copy(dst, data[:n])
			}
			b.pkts = append(b.pkts, batchPkt{off: uint32(b.used), len: uint32(need), wireLen: uint32(max(wireLen, need)),
				ns: ts.UnixNano(), frame: in.frame})
			b.used += need
			if len(b.pkts) == cap(b.pkts) {
				b = l.handOver(in, b)
			}
		}
		if len(b.pkts) > 0 && now.Sub(b.start) >= o.FlushInterval {
			b = l.handOver(in, b)
		}
		if now.After(nextStats) {
			updateStats()
			nextStats = now.Add(time.Second)
		}
	}
	updateStats()
	if len(b.pkts) > 0 {
		// What was captured before the stop still reaches the consumer.
		l.handOver(in, b)
	}
}

// reopen waits for a failed interface to come back (a link going down
// fails the socket for good) and opens a new ring on it. It gives up when
// the interface is gone or capture stops.
func (l *Live) reopen(in *liveInput) bool {
	wait := reopenFirst
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		err := in.ring.reopen()
		if err == nil {
			in.reopens.Add(1)
			in.setErr("")
			return true
		}
		if errors.Is(err, errInterfaceGone) {
			in.setErr(fmt.Sprintf("%s; %v", in.getErr(), err))
			return false
		}
		in.setErr(fmt.Sprintf("capture on %s stopped: %v; retrying", in.name, err))
		t.Reset(wait)
		select {
		case <-l.ctx.Done():
			return false
		case <-t.C:
		}
		wait = min(2*wait, reopenMax)
	}
}

// kernelCounters turns the kernel's 32-bit running counts into increments.
type kernelCounters struct{ recv, drop uint32 }

// update returns how much the counts grew since the last call. Unsigned
// subtraction keeps the increments right when a count wraps at 2^32.
func (k *kernelCounters) update(recv, drop uint32) (uint64, uint64) {
	dr, dd := uint64(recv-k.recv), uint64(drop-k.drop)
	k.recv, k.drop = recv, drop
	return dr, dd
}

// handOver queues a full or stale batch and returns an empty one to fill.
// When every batch of the interface is waiting for the consumer, the
// batch's packets are dropped and counted instead: the reader must keep
// draining the ring or the kernel drops packets blindly.
func (l *Live) handOver(in *liveInput, b *batch) *batch {
	select {
	case next := <-in.free:
		select {
		case l.queue <- b:
			return next
		default:
			// Cannot happen while the queue has room for every batch;
			// drop rather than block if it ever does.
			in.free <- next
		}
	default:
	}
	in.queueDrp.Add(uint64(len(b.pkts)))
	b.reset()
	return b
}

func (in *liveInput) setErr(s string) {
	in.mu.Lock()
	in.err = s
	in.mu.Unlock()
}

func (in *liveInput) getErr() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}

// Next returns the next packet of any interface. Its data is valid until
// the next call. It returns ctx's error when ctx is cancelled, the capture
// context's error once capture was cancelled and every captured packet
// delivered, io.EOF after Close, and an error naming the causes when every
// interface failed.
func (l *Live) Next(ctx context.Context) (*Packet, error) {
	for {
		if b := l.cur; b != nil {
			if l.pos < len(b.pkts) {
				bp := &b.pkts[l.pos]
				l.pos++
				in := b.owner
				l.pkt = Packet{Data: b.buf[bp.off : bp.off+bp.len : bp.off+bp.len], Time: time.Unix(0, bp.ns),
					WireLen: int(bp.wireLen), LinkType: in.link, Input: in.index, Frame: bp.frame}
				in.packets.Add(1)
				in.bytes.Add(uint64(bp.wireLen))
				return &l.pkt, nil
			}
			l.cur = nil
			b.reset()
			b.owner.free <- b // never blocks: the pool has room for all its batches
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		select {
		case b := <-l.queue:
			l.cur, l.pos = b, 0
			continue
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.done:
		}
		// Every reader has stopped, so what is queued now is all there is.
		select {
		case b := <-l.queue:
			l.cur, l.pos = b, 0
			continue
		default:
		}
		if l.closed.Load() {
			return nil, io.EOF
		}
		if err := l.ctx.Err(); err != nil {
			return nil, err
		}
		var errs []string
		for _, in := range l.inputs {
			if e := in.getErr(); e != "" {
				errs = append(errs, e)
			}
		}
		return nil, fmt.Errorf("live capture ended: %s", strings.Join(errs, "; "))
	}
}

// Stats reports per-interface counters: Packets and Bytes delivered by
// Next, Dropped the packets lost in the kernel's ring or heir's queue.
func (l *Live) Stats() []InputStats {
	out := make([]InputStats, len(l.inputs))
	for i, in := range l.inputs {
		out[i] = InputStats{Name: in.name, Packets: in.packets.Load(), Bytes: in.bytes.Load(),
			Dropped: in.kernDrop.Load() + in.queueDrp.Load(), Error: in.getErr()}
	}
	return out
}

// LiveStats reports the per-interface counters in detail. The kernel's
// counters are read once a second and when capture stops.
func (l *Live) LiveStats() []LiveStats {
	out := make([]LiveStats, len(l.inputs))
	for i, in := range l.inputs {
		out[i] = LiveStats{Name: in.name, LinkType: in.link, Captured: in.captured.Load(), Delivered: in.packets.Load(),
			KernelDrops: in.kernDrop.Load(), QueueDrops: in.queueDrp.Load(), Reopens: in.reopens.Load(), Error: in.getErr()}
	}
	return out
}

// Names returns the interface names, indexed like Packet.Input.
func (l *Live) Names() []string {
	out := make([]string, len(l.inputs))
	for i, in := range l.inputs {
		out[i] = in.name
	}
	return out
}

// Done is closed when every reader has stopped: after the capture context
// is cancelled, Close is called, or every interface failed.
func (l *Live) Done() <-chan struct{} { return l.done }

// Close stops the readers, waits for them and releases the rings. Next
// then returns what was already queued, then io.EOF.
func (l *Live) Close() error {
	l.once.Do(func() {
		l.closed.Store(true)
		l.cancel()
	})
	<-l.done
	return nil
}
