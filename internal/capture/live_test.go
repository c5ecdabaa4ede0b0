package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heir-emd/heir/internal/packet"
)

// fakeRing stands in for the kernel's ring: the test sends packets into
// it; next waits at most the poll interval, like the real one.
type fakeRing struct {
	pkts   chan fakePkt
	poll   time.Duration
	recv   atomic.Uint32
	drop   atomic.Uint32
	closed atomic.Bool
	err    error // returned once pkts is closed
	// again, when set, is what a reopen reads from next; unset, the
	// interface is gone.
	again  chan fakePkt
	failed int // reopens that fail before one succeeds
}

type fakePkt struct {
	data []byte
	vlan int
}

func newFakeRing(poll time.Duration) *fakeRing {
	return &fakeRing{pkts: make(chan fakePkt), poll: poll, err: errors.New("interface went away")}
}

func (f *fakeRing) next() ([]byte, time.Time, int, int, error) {
	t := time.NewTimer(f.poll)
	defer t.Stop()
	select {
	case p, ok := <-f.pkts:
		if !ok {
			return nil, time.Time{}, 0, -1, f.err
		}
		return p.data, time.Now(), len(p.data), p.vlan, nil
	case <-t.C:
		return nil, time.Time{}, 0, -1, errRingTimeout
	}
}

func (f *fakeRing) counters() (uint32, uint32, error) { return f.recv.Load(), f.drop.Load(), nil }
func (f *fakeRing) close()                            { f.closed.Store(true) }

func (f *fakeRing) reopen() error {
	if f.again == nil {
		return errInterfaceGone
	}
	if f.failed > 0 {
		f.failed--
		return errors.New("interface is down")
	}
	f.pkts, f.again = f.again, nil
	return nil
}

// frame makes an Ethernet frame whose payload carries its input and
// sequence number.
func frame(input, seq int, size int) []byte {
	b := make([]byte, size)
	copy(b[0:6], []byte{2, 0, 0, 0, 0, byte(input)})
	binary.BigEndian.PutUint16(b[12:14], 0x88b5) // local experimental ethertype
	binary.BigEndian.PutUint32(b[14:18], uint32(input))
	binary.BigEndian.PutUint32(b[18:22], uint32(seq))
	return b
}

func smallOpts() LiveOptions {
	o := LiveOptions{SnapLen: 1500, BatchBytes: 4096, BatchPackets: 8, QueueBatches: 2, FlushInterval: 2 * time.Millisecond}
	o.defaults()
	return o
}

func openFake(ctx context.Context, rings []*fakeRing, o LiveOptions) *Live {
	names := make([]string, len(rings))
	links := make([]packet.LinkType, len(rings))
	rs := make([]ring, len(rings))
	for i, r := range rings {
		names[i] = "fake" + string(rune('0'+i))
		links[i] = packet.LinkEthernet
		rs[i] = r
	}
	l := newLive(ctx, names, links, rs, o)
	l.start()
	return l
}

func TestLiveDeliversInOrderPerInterface(t *testing.T) {
	defer goleak.VerifyNone(t)
	rings := []*fakeRing{newFakeRing(time.Millisecond), newFakeRing(time.Millisecond)}
	o := smallOpts()
	o.QueueBatches = 64 // nothing may be dropped here
	l := openFake(context.Background(), rings, o)
	defer l.Close()
	const n = 300
	for i, r := range rings {
		go func() {
			for seq := 1; seq <= n; seq++ {
				p := fakePkt{data: frame(i, seq, 60+seq%200), vlan: -1}
				if i == 1 && seq%3 == 0 {
					p.vlan = seq % 4096
				}
				r.pkts <- p
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last := [2]int{}
	for got := 0; got < 2*n; got++ {
		p, err := l.Next(ctx)
		if err != nil {
			t.Fatalf("after %d packets: %v (stats %+v)", got, err, l.LiveStats())
		}
		d := p.Data
		if p.LinkType != packet.LinkEthernet || p.Input < 0 || p.Input > 1 {
			t.Fatalf("packet %d: link %d input %d", got, p.LinkType, p.Input)
		}
		var vlan int = -1
		if binary.BigEndian.Uint16(d[12:14]) == 0x8100 {
			vlan = int(binary.BigEndian.Uint16(d[14:16]))
			d = append(append([]byte{}, d[:12]...), d[16:]...) // the frame as sent
			if p.WireLen != len(p.Data) {
				t.Errorf("tagged packet: wire length %d, want %d", p.WireLen, len(p.Data))
			}
		}
		in, seq := int(binary.BigEndian.Uint32(d[14:18])), int(binary.BigEndian.Uint32(d[18:22]))
		if in != p.Input {
			t.Fatalf("packet of input %d reported as input %d", in, p.Input)
		}
		if seq != last[in]+1 || p.Frame != uint64(seq) {
			t.Fatalf("input %d: packet %d (frame %d) after %d", in, seq, p.Frame, last[in])
		}
		last[in] = seq
		if len(d) != 60+seq%200 {
			t.Fatalf("input %d packet %d: %d bytes, want %d", in, seq, len(d), 60+seq%200)
		}
		wantVLAN := -1
		if in == 1 && seq%3 == 0 {
			wantVLAN = seq % 4096
		}
		if vlan != wantVLAN {
			t.Fatalf("input %d packet %d: vlan %d, want %d", in, seq, vlan, wantVLAN)
		}
		// The decoder sees the restored tag.
		var dp packet.Packet
		if err := packet.Decode(p.LinkType, p.Data, &dp); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if wantVLAN >= 0 && (dp.NVLAN != 1 || int(dp.VLANs[0]) != wantVLAN) {
			t.Fatalf("decoded VLANs %v (%d), want %d", dp.VLANs, dp.NVLAN, wantVLAN)
		}
	}
	st := l.Stats()
	for i, s := range st {
		if s.Packets != n || s.Dropped != 0 || s.Name != l.Names()[i] {
			t.Errorf("input %d stats %+v, want %d packets, no drops", i, s, n)
		}
	}
}

// A consumer that stops reading must cost packets, never stall capture.
func TestLiveDropsWhenConsumerStalls(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := newFakeRing(time.Millisecond)
	o := smallOpts()
	l := openFake(context.Background(), []*fakeRing{r}, o)
	const n = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := 1; seq <= n; seq++ {
			r.pkts <- fakePkt{data: frame(0, seq, 100), vlan: -1}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the reader blocked on a consumer that does not read: %+v", l.LiveStats())
	}
	l.Close()
	delivered := 0
	var lastFrame uint64
	for {
		p, err := l.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Frame <= lastFrame {
			t.Fatalf("frame %d after %d", p.Frame, lastFrame)
		}
		lastFrame = p.Frame
		delivered++
	}
	ls := l.LiveStats()[0]
	if ls.Captured != n || ls.QueueDrops == 0 || uint64(delivered)+ls.QueueDrops != n || ls.Delivered != uint64(delivered) {
		t.Errorf("captured %d, delivered %d (%d by Next), dropped %d; want %d captured, some dropped, none lost",
			ls.Captured, ls.Delivered, delivered, ls.QueueDrops, n)
	}
	// Batches per interface bound what waits: (QueueBatches+2) × BatchPackets.
	if max := (o.QueueBatches + 2) * o.BatchPackets; delivered > max {
		t.Errorf("%d packets waited for the consumer, more than the %d the queue holds", delivered, max)
	}
	if got := l.Stats()[0].Dropped; got != ls.QueueDrops {
		t.Errorf("Stats().Dropped = %d, want %d", got, ls.QueueDrops)
	}
	if !r.closed.Load() {
		t.Error("ring not closed")
	}
}

func TestLiveFlushesPartialBatch(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := newFakeRing(time.Millisecond)
	l := openFake(context.Background(), []*fakeRing{r}, smallOpts())
	defer l.Close()
	r.pkts <- fakePkt{data: frame(0, 1, 80), vlan: -1}
	// One packet never fills a batch of 8; the flush interval delivers it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := l.Next(ctx)
	if err != nil {
		t.Fatalf("a lone packet was not delivered: %v", err)
	}
	if p.Frame != 1 || len(p.Data) != 80 {
		t.Errorf("got frame %d of %d bytes", p.Frame, len(p.Data))
	}
}

func TestLiveCancelStopsReaders(t *testing.T) {
	defer goleak.VerifyNone(t)
	rings := []*fakeRing{newFakeRing(time.Millisecond), newFakeRing(time.Millisecond)}
	ctx, cancel := context.WithCancel(context.Background())
	l := openFake(ctx, rings, smallOpts())
	rings[0].pkts <- fakePkt{data: frame(0, 1, 64), vlan: -1}
	cancel()
	select {
	case <-l.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("readers still running 5s after cancel")
	}
	for _, r := range rings {
		if !r.closed.Load() {
			t.Error("ring not closed after cancel")
		}
	}
	// The packet captured before the cancel is still delivered, then the
	// cancellation is reported.
	p, err := l.Next(context.Background())
	if err != nil || p.Frame != 1 {
		t.Fatalf("Next = %v, %v; want the packet captured before cancel", p, err)
	}
	if _, err := l.Next(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel = %v, want context.Canceled", err)
	}
	l.Close()
	if _, err := l.Next(context.Background()); err != io.EOF {
		t.Fatalf("Next after Close = %v, want io.EOF", err)
	}
}

func TestLiveNextHonoursItsContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	l := openFake(context.Background(), []*fakeRing{newFakeRing(time.Millisecond)}, smallOpts())
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an idle interface = %v, want the deadline", err)
	}
}

func TestLiveReaderError(t *testing.T) {
	defer goleak.VerifyNone(t)
	rings := []*fakeRing{newFakeRing(time.Millisecond), newFakeRing(time.Millisecond)}
	l := openFake(context.Background(), rings, smallOpts())
	defer l.Close()
	rings[0].pkts <- fakePkt{data: frame(0, 1, 64), vlan: -1}
	close(rings[0].pkts)
	// The other interface goes on.
	rings[1].pkts <- fakePkt{data: frame(1, 1, 64), vlan: -1}
	close(rings[1].pkts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := 0
	var err error
	for {
		if _, err = l.Next(ctx); err != nil {
			break
		}
		n++
	}
	if n != 2 || err == nil || !strings.Contains(err.Error(), "capture on fake0 stopped: interface went away") ||
		!strings.Contains(err.Error(), "fake1") {
		t.Fatalf("got %d packets then %v; want 2 then both interfaces' errors", n, err)
	}
	if s := l.Stats()[0]; s.Error != "capture on fake0 stopped: interface went away; interface gone" {
		t.Errorf("stats error %q", s.Error)
	}
}

// A link that goes down and comes back costs a reopen, not the capture.
func TestLiveReopensAfterFailure(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := newFakeRing(time.Millisecond)
	first, second := r.pkts, make(chan fakePkt)
	r.again, r.failed = second, 2
	l := openFake(context.Background(), []*fakeRing{r}, smallOpts())
	defer l.Close()
	first <- fakePkt{data: frame(0, 1, 64), vlan: -1}
	close(first)
	// Two failed attempts wait 100 ms and 200 ms before the third succeeds.
	second <- fakePkt{data: frame(0, 2, 64), vlan: -1}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for want := uint64(1); want <= 2; want++ {
		p, err := l.Next(ctx)
		if err != nil {
			t.Fatalf("packet %d: %v (stats %+v)", want, err, l.LiveStats())
		}
		if p.Frame != want {
			t.Fatalf("frame %d, want %d", p.Frame, want)
		}
	}
	if ls := l.LiveStats()[0]; ls.Reopens != 1 || ls.Error != "" {
		t.Errorf("after recovery: %d reopens, error %q; want 1 and none", ls.Reopens, ls.Error)
	}
}

func TestLiveKernelCounters(t *testing.T) {
	defer goleak.VerifyNone(t)
	r := newFakeRing(time.Millisecond)
	r.recv.Store(40)
	r.drop.Store(3)
	ctx, cancel := context.WithCancel(context.Background())
	l := openFake(ctx, []*fakeRing{r}, smallOpts())
	cancel()
	l.Close() // the reader reads the counters as it stops
	if ls := l.LiveStats()[0]; ls.KernelDrops != 3 {
		t.Errorf("kernel drops %d, want 3", ls.KernelDrops)
	}
	if got := l.Stats()[0].Dropped; got != 3 {
		t.Errorf("Stats().Dropped = %d, want 3", got)
	}
	// The counts wrap at 2^32 on a busy link; increments stay right.
	var k kernelCounters
	k.update(0xfffffff0, 0xfffffffe)
	if dr, dd := k.update(0x10, 0x3); dr != 0x20 || dd != 5 {
		t.Errorf("increments across the wrap: %d received, %d dropped; want 32, 5", dr, dd)
	}
}

func TestLiveOptions(t *testing.T) {
	var o LiveOptions
	o.defaults()
	if o != DefaultLiveOptions {
		t.Fatalf("defaults %+v, want %+v", o, DefaultLiveOptions)
	}
	if err := o.validate(4096); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	bad := []struct {
		change func(*LiveOptions)
		want   string
	}{
		{func(o *LiveOptions) { o.SnapLen = 10 }, "snap length 10"},
		{func(o *LiveOptions) { o.BlockSize = 4096*3 + 1 }, "multiple of the page size"},
		{func(o *LiveOptions) { o.FrameSize = 3000 }, "divide the block size"},
		{func(o *LiveOptions) { o.BlockSize = 64 << 10 }, "exceed the snap length"},
		{func(o *LiveOptions) { o.BatchBytes = 1000 }, "hold one packet"},
		{func(o *LiveOptions) { o.QueueBatches = 10000 }, "too large"},
	}
	for _, b := range bad {
		o := DefaultLiveOptions
		b.change(&o)
		if err := o.validate(4096); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("validate(%+v) = %v, want %q", o, err, b.want)
		}
	}
}
