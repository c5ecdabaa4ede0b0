//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/heir-emd/heir/internal/packet"
)

// OpenLive starts capturing on the named interfaces through AF_PACKET
// TPACKET_V3 rings, in pure Go. Capture runs until ctx is cancelled or
// Close is called. Packet.Input is the interface's index in ifaces;
// Packet.Frame counts the packets captured on that interface, so a gap in
// frame numbers shows packets dropped in heir's queue.
//
// It needs root or CAP_NET_RAW. Ethernet interfaces and loopback are read
// with their link headers (LinkEthernet); interfaces without one (tun,
// WireGuard, PPP, IP-in-IP, GRE, SIT) as raw IP (LinkRaw).
func OpenLive(ctx context.Context, ifaces []string, opts LiveOptions) (Source, error) {
	if len(ifaces) == 0 {
		return nil, errors.New("live capture: no interface given")
	}
	opts.defaults()
	if err := opts.validate(unix.Getpagesize()); err != nil {
		return nil, fmt.Errorf("live capture: %w", err)
	}
	seen := map[string]bool{}
	var (
		rings []ring
		links []packet.LinkType
	)
	fail := func(err error) (Source, error) {
		for _, r := range rings {
			r.close()
		}
		return nil, err
	}
	for _, name := range ifaces {
		if seen[name] {
			return fail(fmt.Errorf("live capture: interface %s given twice", name))
		}
		seen[name] = true
		r, link, err := openRing(name, &opts)
		if err != nil {
			return fail(err)
		}
		rings = append(rings, r)
		links = append(links, link)
	}
	l := newLive(ctx, ifaces, links, rings, opts)
	l.start()
	return l, nil
}

// ARPHRD device types (linux/if_arp.h) heir knows how to read.
const (
	arphrdEther    = 1
	arphrdIEEE802  = 6
	arphrdPPP      = 512
	arphrdRawIP    = 519
	arphrdTunnel   = 768
	arphrdTunnel6  = 769
	arphrdSit      = 776
	arphrdIPGRE    = 778
	arphrdLoopback = 772
	arphrdIP6GRE   = 823
	arphrdNone     = 0xfffe
)

// linkOf maps a device type to the link type of its frames and the socket
// type that reads them: Ethernet-like devices with their headers, the
// others without any link header (SOCK_DGRAM), as raw IP.
func linkOf(hatype uint16) (packet.LinkType, afpacket.OptSocketType, bool) {
	switch hatype {
	case arphrdEther, arphrdIEEE802, arphrdLoopback:
		// Linux loopback frames carry an Ethernet header with zero MACs.
		return packet.LinkEthernet, afpacket.SocketRaw, true
	case arphrdNone, arphrdPPP, arphrdRawIP, arphrdTunnel, arphrdTunnel6, arphrdSit, arphrdIPGRE, arphrdIP6GRE:
		return packet.LinkRaw, afpacket.SocketDgram, true
	}
	return 0, 0, false
}

func openRing(name string, o *LiveOptions) (ring, packet.LinkType, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, 0, fmt.Errorf("live capture: no interface %q (available: %s)", name, available())
	}
	hatype, err := deviceType(name)
	if err != nil {
		return nil, 0, fmt.Errorf("live capture on %s: read device type: %w", name, err)
	}
	link, socktype, ok := linkOf(hatype)
	if !ok {
		return nil, 0, fmt.Errorf("live capture on %s: device type %d (ARPHRD) is not supported; heir reads Ethernet and raw-IP interfaces", name, hatype)
	}
	// Remember the network namespace the interface was found in, so that a
	// reopen after a link flap finds the same interface even when this
	// thread was moved into another namespace only to open it.
	nsfd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("live capture on %s: %w", name, err)
	}
	r := &afRing{name: name, opts: o, socktype: socktype, loopback: hatype == arphrdLoopback, nsfd: nsfd}
	if r.tp, err = newTPacket(name, o, socktype, r.loopback); err != nil {
		unix.Close(nsfd)
		return nil, 0, err
	}
	r.ifindex = ifi.Index
	return r, link, nil
}

// newTPacket opens a ring on an interface of the calling thread's network
// namespace.
func newTPacket(name string, o *LiveOptions, socktype afpacket.OptSocketType, loopback bool) (*afpacket.TPacket, error) {
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(name),
		afpacket.OptSocketType(socktype),
		afpacket.TPacketVersion3,
		afpacket.OptBlockSize(o.BlockSize),
		afpacket.OptNumBlocks(o.NumBlocks),
		afpacket.OptFrameSize(o.FrameSize),
		afpacket.OptBlockTimeout(o.BlockTimeout),
		afpacket.OptPollTimeout(o.FlushInterval),
	)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("capture on %s needs root or CAP_NET_RAW: %w", name, err)
		}
		return nil, fmt.Errorf("live capture on %s: open AF_PACKET ring (%d blocks of %d bytes): %w", name, o.NumBlocks, o.BlockSize, err)
	}
	// A socket filter makes the kernel cut packets to the snap length
	// before they take ring space, as libpcap does. On loopback every
	// packet passes the tap twice, going out and coming back in; the
	// filter keeps the incoming copy only, as libpcap also does.
	prog := []bpf.Instruction{bpf.RetConstant{Val: uint32(o.SnapLen)}}
	if loopback {
		prog = []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 1},
			bpf.RetConstant{Val: uint32(o.SnapLen)},
			bpf.RetConstant{Val: 0},
		}
	}
	snap, err := bpf.Assemble(prog)
	if err != nil {
		tp.Close()
		return nil, fmt.Errorf("live capture on %s: socket filter: %w", name, err)
	}
	if err := tp.SetBPF(snap); err != nil {
		tp.Close()
		return nil, fmt.Errorf("live capture on %s: set snap length: %w", name, err)
	}
	if o.Promiscuous {
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			return nil, fmt.Errorf("live capture on %s: promiscuous mode: %w", name, err)
		}
	}
	return tp, nil
}

// deviceType asks the kernel for an interface's ARPHRD type, the family of
// its hardware address. The ioctl runs in the calling thread's network
// namespace, like the interface lookup.
func deviceType(name string) (uint16, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, err
	}
	return ifr.Uint16(), nil
}

// available lists the interfaces there are, for error messages.
func available() string {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		return "none found"
	}
	names := make([]string, len(ifs))
	for i, ifi := range ifs {
		names[i] = ifi.Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// afRing reads a gopacket afpacket ring.
type afRing struct {
	tp       *afpacket.TPacket // nil after a failed reopen
	ifindex  int
	name     string
	opts     *LiveOptions
	socktype afpacket.OptSocketType
	loopback bool
	nsfd     int // the interface's network namespace
}

func (r *afRing) next() ([]byte, time.Time, int, int, error) {
	for {
		data, ci, err := r.tp.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, afpacket.ErrTimeout) {
				return nil, time.Time{}, 0, -1, errRingTimeout
			}
			if errors.Is(err, afpacket.ErrPoll) {
				err = errors.New("socket error (link down or interface removed)")
			}
			return nil, time.Time{}, 0, -1, err
		}
		// The socket is bound to one interface; a packet of another one
		// could only have slipped in before the bind.
		if ci.InterfaceIndex != 0 && ci.InterfaceIndex != r.ifindex {
			continue
		}
		vlan := -1
		for _, a := range ci.AncillaryData {
			if v, ok := a.(afpacket.AncillaryVLAN); ok {
				vlan = v.VLAN
			}
		}
		return data, ci.Timestamp, ci.Length, vlan, nil
	}
}

func (r *afRing) counters() (uint32, uint32, error) {
	if r.tp == nil {
		return 0, 0, errors.New("no ring")
	}
	_, v3, err := r.tp.SocketStats()
	if err != nil {
		return 0, 0, err
	}
	return uint32(v3.Packets()), uint32(v3.Drops()), nil
}

// reopen opens a new ring once the interface is up again. A socket whose
// link went down keeps failing (its error sticks), hence a new one. The
// work happens in the interface's namespace: on this thread when it is
// already there, else on a thread moved there and then discarded.
func (r *afRing) reopen() error {
	if r.tp != nil {
		r.tp.Close()
		r.tp = nil
	}
	open := func() error {
		ifi, err := net.InterfaceByName(r.name)
		if err != nil {
			return fmt.Errorf("%w: %v", errInterfaceGone, err)
		}
		if ifi.Flags&net.FlagUp == 0 {
			return errors.New("interface is down")
		}
		tp, err := newTPacket(r.name, r.opts, r.socktype, r.loopback)
		if err != nil {
			return err
		}
		r.tp, r.ifindex = tp, ifi.Index
		return nil
	}
	same, err := sameNetns(r.nsfd)
	if err != nil {
		return err
	}
	if same {
		return open()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Setns(r.nsfd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter the interface's network namespace: %w", err)
			return
		}
		errc <- open()
	}()
	return <-errc
}

// sameNetns says whether the calling thread is in the namespace nsfd
// refers to.
func sameNetns(nsfd int) (bool, error) {
	var want, cur unix.Stat_t
	if err := unix.Fstat(nsfd, &want); err != nil {
		return false, err
	}
	if err := unix.Stat("/proc/thread-self/ns/net", &cur); err != nil {
		return false, err
	}
	return want.Dev == cur.Dev && want.Ino == cur.Ino, nil
}

func (r *afRing) close() {
	if r.tp != nil {
		r.tp.Close()
		r.tp = nil
	}
	if r.nsfd >= 0 {
		unix.Close(r.nsfd)
		r.nsfd = -1
	}
}
