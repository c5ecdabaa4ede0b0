//go:build linux

package capture_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// The live tests build a small network out of two network namespaces, a
// server's and a client's, joined by veth pairs, run real servers and
// clients in them, and capture in the client's namespace. Nothing is
// added to the host's own namespace, and every address is private to the
// namespaces (10.199.x.0/24, fd00:199::/32).

const (
	httpPort     = 8080
	sentinelPort = 8081 // nothing listens: a SYN there marks the end of a test's traffic
	mqttPort     = 1883
)

// TestLiveHelperProcess is not a test: the live tests run the test binary
// inside a namespace as a server. It serves HTTP on HEIR_LIVE_LISTEN until
// its standard input closes.
func TestLiveHelperProcess(t *testing.T) {
	switch os.Getenv("HEIR_LIVE_HELPER") {
	case "":
		t.Skip("helper process for the live capture tests")
	case "http":
		ln, err := net.Listen("tcp", os.Getenv("HEIR_LIVE_LISTEN"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		body := strings.Repeat("heir live capture test\n", 400) // several segments
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "heir-live-test")
			io.WriteString(w, body)
		}))
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "udp":
		// Sends HEIR_LIVE_COUNT datagrams to HEIR_LIVE_TARGET as fast as it
		// can, then a last one to the sentinel port, and exits.
		var n int
		fmt.Sscan(os.Getenv("HEIR_LIVE_COUNT"), &n)
		target := os.Getenv("HEIR_LIVE_TARGET")
		c, err := net.Dial("udp", target)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		buf := make([]byte, 200)
		for i := 0; i < n; i++ {
			c.Write(buf)
		}
		host, _, _ := net.SplitHostPort(target)
		s, err := net.Dial("udp", net.JoinHostPort(host, fmt.Sprint(sentinelPort)))
		if err == nil {
			s.Write(buf[:1])
		}
		os.Exit(0)
	}
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if testenv.InCI() {
			t.Fatal("the live capture tests need root in CI (network namespaces and AF_PACKET)")
		}
		t.Skip("live capture tests need root: they create network namespaces and open AF_PACKET sockets")
	}
}

// link is one veth pair between the namespaces.
type link struct {
	srvIf, cliIf   string
	srvMAC, cliMAC string
	srvIP, cliIP   netip.Addr
}

type netpair struct {
	srv, cli string // namespace names
	links    []link
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNetpair creates the two namespaces with n veth pairs between them:
// pair i carries 10.199.<x+i>.0/24 and fd00:199:<x>:<i>::/64. Everything
// is removed when the test ends, whether it passed or not.
func newNetpair(t testing.TB, n int) *netpair {
	t.Helper()
	needRoot(t)
	ip := testenv.Tool(t, "ip")
	var rnd [3]byte
	rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	np := &netpair{srv: "heir-s-" + id, cli: "heir-c-" + id}
	for _, ns := range []string{np.srv, np.cli} {
		run(t, ip, "netns", "add", ns)
		t.Cleanup(func() { exec.Command(ip, "netns", "del", ns).Run() })
		run(t, ip, "-n", ns, "link", "set", "lo", "up")
	}
	x := int(rnd[0]) % 200
	for i := 0; i < n; i++ {
		l := link{
			srvIf: fmt.Sprintf("hs%s%d", id, i), cliIf: fmt.Sprintf("hc%s%d", id, i),
			srvMAC: fmt.Sprintf("02:48:45:%02x:%02x:01", rnd[1], i), cliMAC: fmt.Sprintf("02:48:45:%02x:%02x:02", rnd[1], i),
			srvIP: netip.MustParseAddr(fmt.Sprintf("10.199.%d.1", x+i)), cliIP: netip.MustParseAddr(fmt.Sprintf("10.199.%d.2", x+i)),
		}
		// Both ends are created inside their namespaces: the host's own
		// namespace never holds them, not even for a moment.
		run(t, ip, "link", "add", l.cliIf, "address", l.cliMAC, "netns", np.cli, "type", "veth",
			"peer", "name", l.srvIf, "address", l.srvMAC, "netns", np.srv)
		for _, end := range []struct{ ns, dev, v4, v6 string }{
			{np.srv, l.srvIf, l.srvIP.String() + "/24", fmt.Sprintf("fd00:199:%x:%x::1/64", x, i)},
			{np.cli, l.cliIf, l.cliIP.String() + "/24", fmt.Sprintf("fd00:199:%x:%x::2/64", x, i)},
		} {
			run(t, ip, "-n", end.ns, "addr", "add", end.v4, "dev", end.dev)
			run(t, ip, "-n", end.ns, "addr", "add", end.v6, "dev", end.dev, "nodad")
			run(t, ip, "-n", end.ns, "link", "set", end.dev, "up")
		}
		np.links = append(np.links, l)
	}
	return np
}

func (np *netpair) v6(i int, host int) netip.Addr {
	l := np.links[i]
	x := l.srvIP.As4()[2] - byte(i)
	return netip.MustParseAddr(fmt.Sprintf("fd00:199:%x:%x::%d", x, i, host))
}

// inNetns runs fn on an OS thread moved into namespace ns. Sockets opened
// there stay bound to ns wherever they are used from later. The thread is
// never unlocked, so Go discards it when fn returns rather than letting
// other goroutines run inside the namespace.
func inNetns[T any](ns string, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var zero T
		f, err := os.Open(filepath.Join("/var/run/netns", ns))
		if err != nil {
			ch <- result{zero, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{zero, fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		v, err := fn()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

// startHTTP runs the helper HTTP server in the server namespace and waits
// for it to listen.
func startHTTP(t testing.TB, np *netpair, listen string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", np.srv, exe, "-test.run=^TestLiveHelperProcess$")
	cmd.Env = append(os.Environ(), "HEIR_LIVE_HELPER=http", "HEIR_LIVE_LISTEN="+listen)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the helper exits when its input ends
		cmd.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("helper said %q", line)
		}
		ready <- err
		io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("HTTP helper: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("HTTP helper not ready after 20s")
	}
}

// startMosquitto runs a real MQTT broker on the server address, or returns
// false when mosquitto is not installed (outside CI).
func startMosquitto(t testing.TB, np *netpair, addr netip.Addr) bool {
	t.Helper()
	if _, err := exec.LookPath("mosquitto"); err != nil && !testenv.InCI() {
		t.Log("mosquitto not installed: no MQTT traffic")
		return false
	}
	testenv.Tool(t, "mosquitto")
	testenv.Tool(t, "mosquitto_pub")
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d %s\nallow_anonymous true\nlog_dest stderr\nlog_type all\n", mqttPort, addr)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", np.srv, "mosquitto", "-c", conf)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var log []string
		for sc.Scan() {
			log = append(log, sc.Text())
			if strings.Contains(sc.Text(), " running") {
				ready <- nil
				io.Copy(io.Discard, stderr)
				return
			}
		}
		ready <- fmt.Errorf("mosquitto exited: %s", strings.Join(log, " | "))
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("mosquitto not running after 20s")
	}
	return true
}

// client runs a command in the client namespace.
func (np *netpair) client(args ...string) error {
	out, err := exec.Command("ip", append([]string{"netns", "exec", np.cli}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func hostPort(a netip.Addr, port int) string {
	return netip.AddrPortFrom(a, uint16(port)).String()
}

// sentinel sends one SYN to the sentinel port; curl's failure to connect is
// expected.
func (np *netpair) sentinel(a netip.Addr) {
	np.client("curl", "-sS", "--noproxy", "*", "--max-time", "5", "http://"+hostPort(a, sentinelPort)+"/")
}

// consume feeds captured packets to the sensor until a SYN to the sentinel
// port has been seen on every input, and checks what every packet says
// about itself on the way.
func consume(t *testing.T, src capture.Source, s *sensor.Sensor, np *netpair, timeout time.Duration) {
	t.Helper()
	inputs := len(np.links)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	frames := make([]uint64, inputs)
	done := make([]bool, inputs)
	left := inputs
	var p packet.Packet
	for left > 0 {
		cp, err := src.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (sentinels seen %v, stats %+v)", err, done, src.Stats())
		}
		if cp.Input < 0 || cp.Input >= inputs {
			t.Fatalf("packet from input %d of %d", cp.Input, inputs)
		}
		if cp.LinkType != packet.LinkEthernet {
			t.Errorf("input %d: link type %d, want Ethernet", cp.Input, cp.LinkType)
		}
		if cp.Frame != frames[cp.Input]+1 {
			t.Errorf("input %d: frame %d after %d with no drops", cp.Input, cp.Frame, frames[cp.Input])
		}
		frames[cp.Input] = cp.Frame
		if cp.WireLen < len(cp.Data) || cp.Time.IsZero() || time.Since(cp.Time) > time.Minute {
			t.Errorf("input %d frame %d: wire length %d for %d bytes, time %v", cp.Input, cp.Frame, cp.WireLen, len(cp.Data), cp.Time)
		}
		s.Packet(cp)
		if err := packet.Decode(cp.LinkType, cp.Data, &p); err != nil {
			t.Errorf("input %d frame %d: %v", cp.Input, cp.Frame, err)
			continue
		}
		// Only the two ends of a veth pair send on it: the source MAC
		// says which interface the frame really came in on.
		if l := np.links[cp.Input]; packet.MAC(p.SrcMAC) != l.cliMAC && packet.MAC(p.SrcMAC) != l.srvMAC {
			t.Errorf("input %d (%s) frame %d from %s, a MAC of another link", cp.Input, l.cliIf, cp.Frame, packet.MAC(p.SrcMAC))
		}
		if p.Proto == packet.ProtoTCP &&
			p.DstPort == sentinelPort && p.TCPFlags&packet.SYN != 0 && !done[cp.Input] {
			done[cp.Input] = true
			left--
		}
	}
	s.Finish()
}

func findFlow(flows []*event.Flow, client, server netip.Addr, port uint16) *event.Flow {
	for _, f := range flows {
		if f.Transport == "tcp" && f.Client.IP == client && f.Server.IP == server && f.Server.Port == port {
			return f
		}
	}
	return nil
}

// checkFlow asserts a complete TCP conversation between the two ends of l.
func checkFlow(t *testing.T, flows []*event.Flow, l link, client, server netip.Addr, port uint16) {
	t.Helper()
	f := findFlow(flows, client, server, port)
	if f == nil {
		var seen []string
		for _, f := range flows {
			seen = append(seen, fmt.Sprintf("%s %s:%d > %s:%d", f.Transport, f.Client.IP, f.Client.Port, f.Server.IP, f.Server.Port))
		}
		t.Fatalf("no TCP flow %s > %s:%d among %v", client, server, port, seen)
	}
	if f.Client.Port == 0 || f.Counts[0].Packets == 0 || f.Counts[1].Packets == 0 {
		t.Errorf("flow %s:%d > %s:%d: counts %+v", client, f.Client.Port, server, port, f.Counts)
	}
	if !strings.Contains(f.ClientTCP, "S") || !strings.Contains(f.ServerTCP, "S") || !strings.Contains(f.ServerTCP, "A") {
		t.Errorf("flow to %s:%d: client flags %q, server flags %q; want the handshake", server, port, f.ClientTCP, f.ServerTCP)
	}
	if f.Client.MAC != l.cliMAC || f.Server.MAC != l.srvMAC {
		t.Errorf("flow to %s:%d: MACs %s > %s, want %s > %s", server, port, f.Client.MAC, f.Server.MAC, l.cliMAC, l.srvMAC)
	}
	if f.Counts[1].PayloadBytes < 9000 && port == httpPort {
		t.Errorf("HTTP flow: %d payload bytes from the server, want the whole page", f.Counts[1].PayloadBytes)
	}
}

// TestLiveCapture is the end-to-end check of live capture: real HTTP and
// MQTT conversations between two namespaces, captured with OpenLive and
// run through the sensor, must come out as flows and ARP records with the
// right addresses.
func TestLiveCapture(t *testing.T) {
	np := newNetpair(t, 1)
	testenv.Tool(t, "curl")
	l := np.links[0]
	startHTTP(t, np, hostPort(l.srvIP, httpPort))
	mqtt := startMosquitto(t, np, l.srvIP)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := inNetns(np.cli, func() (capture.Source, error) {
		return capture.OpenLive(ctx, []string{l.cliIf}, capture.LiveOptions{Promiscuous: true})
	})
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	defer src.Close()

	traffic := make(chan error, 1)
	go func() {
		err := np.client("curl", "-sS", "--noproxy", "*", "--max-time", "10", "-o", "/dev/null", "http://"+hostPort(l.srvIP, httpPort)+"/")
		if err == nil && mqtt {
			err = np.client("mosquitto_pub", "-h", l.srvIP.String(), "-p", fmt.Sprint(mqttPort), "-t", "heir/test", "-m", "hello", "-q", "1")
		}
		np.sentinel(l.srvIP)
		traffic <- err
	}()
	rec := &sensortest.Recorder{}
	s := sensor.New(sensor.Config{}, nil, rec)
	consume(t, src, s, np, 60*time.Second)
	if err := <-traffic; err != nil {
		t.Fatalf("traffic: %v", err)
	}

	checkFlow(t, rec.Flows, l, l.cliIP, l.srvIP, httpPort)
	if mqtt {
		checkFlow(t, rec.Flows, l, l.cliIP, l.srvIP, mqttPort)
	}
	// The client asked for the server's MAC and got it: both MAC/IP pairs.
	var asked, answered bool
	for _, a := range rec.ARPs {
		asked = asked || (a.Op == 1 && packet.MAC(a.SenderMAC) == l.cliMAC && a.SenderIP == l.cliIP && a.TargetIP == l.srvIP)
		answered = answered || (a.Op == 2 && packet.MAC(a.SenderMAC) == l.srvMAC && a.SenderIP == l.srvIP)
	}
	if !asked || !answered {
		t.Errorf("ARP request seen %v, reply seen %v; ARP records %+v", asked, answered, rec.ARPs)
	}
	st := s.Stats()
	if st.Malformed != 0 {
		t.Errorf("%d malformed frames: %v", st.Malformed, st.Errors)
	}
	in := src.Stats()
	if len(in) != 1 || in[0].Name != l.cliIf || in[0].Packets != st.Frames || in[0].Dropped != 0 || in[0].Error != "" {
		t.Errorf("input stats %+v; the sensor saw %d frames", in, st.Frames)
	}
	t.Logf("%d frames, %d flows, %d ARP records; input %+v", st.Frames, len(rec.Flows), len(rec.ARPs), in[0])
}

// TestLiveTwoInterfaces captures on two interfaces at once, one carrying
// IPv4 and the other IPv6, and checks every packet is attributed to its
// own interface.
func TestLiveTwoInterfaces(t *testing.T) {
	np := newNetpair(t, 2)
	testenv.Tool(t, "curl")
	startHTTP(t, np, fmt.Sprintf(":%d", httpPort))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := inNetns(np.cli, func() (capture.Source, error) {
		return capture.OpenLive(ctx, []string{np.links[0].cliIf, np.links[1].cliIf}, capture.LiveOptions{})
	})
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	defer src.Close()
	v4srv, v6srv := np.links[0].srvIP, np.v6(1, 1)
	traffic := make(chan error, 1)
	go func() {
		err := np.client("curl", "-sS", "--noproxy", "*", "--max-time", "10", "-o", "/dev/null", "http://"+hostPort(v4srv, httpPort)+"/")
		if err == nil {
			err = np.client("curl", "-sS", "--noproxy", "*", "--max-time", "10", "-o", "/dev/null", "http://"+hostPort(v6srv, httpPort)+"/")
		}
		np.sentinel(v4srv)
		np.sentinel(v6srv)
		traffic <- err
	}()
	rec := &sensortest.Recorder{}
	s := sensor.New(sensor.Config{}, nil, rec)
	consume(t, src, s, np, 60*time.Second)
	if err := <-traffic; err != nil {
		t.Fatalf("traffic: %v", err)
	}
	checkFlow(t, rec.Flows, np.links[0], np.links[0].cliIP, v4srv, httpPort)
	checkFlow(t, rec.Flows, np.links[1], np.v6(1, 2), v6srv, httpPort)
	for i, in := range src.Stats() {
		if in.Name != np.links[i].cliIf || in.Packets == 0 || in.Dropped != 0 {
			t.Errorf("input %d stats %+v", i, in)
		}
	}
}

// TestLiveCancel checks that cancelling the capture context stops every
// reader promptly and leaves no goroutine behind.
func TestLiveCancel(t *testing.T) {
	np := newNetpair(t, 2)
	ignore := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	src, err := inNetns(np.cli, func() (capture.Source, error) {
		return capture.OpenLive(ctx, []string{np.links[0].cliIf, np.links[1].cliIf}, capture.LiveOptions{})
	})
	if err != nil {
		cancel()
		t.Fatalf("OpenLive: %v", err)
	}
	live := src.(*capture.Live)
	// A consumer blocked in Next on idle interfaces must come back with the
	// cancellation.
	got := make(chan error, 1)
	go func() {
		for {
			if _, err := src.Next(context.Background()); err != nil {
				got <- err
				return
			}
		}
	}()
	start := time.Now()
	cancel()
	select {
	case <-live.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("readers still running 2s after cancel")
	}
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Next after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next still blocked 2s after cancel")
	}
	t.Logf("capture stopped %v after cancel", time.Since(start))
	if err := src.Close(); err != nil {
		t.Error(err)
	}
	goleak.VerifyNone(t, ignore)
}

func TestOpenLiveErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := capture.OpenLive(ctx, nil, capture.LiveOptions{}); err == nil {
		t.Error("no interface: no error")
	}
	_, err := capture.OpenLive(ctx, []string{"heir-no-such-if"}, capture.LiveOptions{})
	if err == nil || !strings.Contains(err.Error(), `no interface "heir-no-such-if" (available: `) || !strings.Contains(err.Error(), "lo") {
		t.Errorf("unknown interface: %v, want the list of interfaces", err)
	}
	if _, err := capture.OpenLive(ctx, []string{"lo"}, capture.LiveOptions{BlockSize: 5000}); err == nil || !strings.Contains(err.Error(), "page size") {
		t.Errorf("bad block size: %v", err)
	}
	if os.Geteuid() != 0 {
		_, err = capture.OpenLive(ctx, []string{"lo"}, capture.LiveOptions{})
		if err == nil || !strings.Contains(err.Error(), "capture on lo needs root or CAP_NET_RAW: ") {
			t.Errorf("without privileges: %v", err)
		}
		return
	}
	if _, err := capture.OpenLive(ctx, []string{"lo", "lo"}, capture.LiveOptions{}); err == nil || !strings.Contains(err.Error(), "lo given twice") {
		t.Errorf("duplicate interface: %v", err)
	}
	// As root, drop CAP_NET_RAW from one thread's effective set (Linux
	// keeps capabilities per thread) and open from there.
	_, err = withoutNetRaw(func() (capture.Source, error) {
		return capture.OpenLive(ctx, []string{"lo"}, capture.LiveOptions{})
	})
	if err == nil || !strings.Contains(err.Error(), "capture on lo needs root or CAP_NET_RAW: operation not permitted") {
		t.Errorf("without CAP_NET_RAW: %v", err)
	}
}

// withoutNetRaw runs fn on a thread without CAP_NET_RAW. The thread stays
// locked, so Go discards it afterwards instead of reusing it.
func withoutNetRaw[T any](fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var zero T
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			ch <- result{zero, fmt.Errorf("capget: %w", err)}
			return
		}
		data[0].Effective &^= 1 << unix.CAP_NET_RAW
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			ch <- result{zero, fmt.Errorf("capset: %w", err)}
			return
		}
		v, err := fn()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}

// BenchmarkLiveVeth measures live capture on a veth: a helper in the
// client namespace sends b.N UDP datagrams of 200 bytes as fast as it can
// and the benchmark reads them through OpenLive on the client's end,
// alone ("capture") or feeding the sensor ("sensor"). It reports packets
// per second through Next and what was dropped in the kernel's ring and
// heir's queue. Run it with a fixed count: -bench LiveVeth -benchtime 200000x.
func BenchmarkLiveVeth(b *testing.B) {
	for _, withSensor := range []bool{false, true} {
		name := "capture"
		if withSensor {
			name = "sensor"
		}
		b.Run(name, func(b *testing.B) { benchLive(b, withSensor) })
	}
}

func benchLive(b *testing.B, withSensor bool) {
	np := newNetpair(b, 1)
	l := np.links[0]
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := inNetns(np.cli, func() (capture.Source, error) {
		return capture.OpenLive(ctx, []string{l.cliIf}, capture.LiveOptions{})
	})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	s := sensor.New(sensor.Config{}, nil, &sensortest.Recorder{})
	cmd := exec.Command("ip", "netns", "exec", np.cli, exe, "-test.run=^TestLiveHelperProcess$")
	cmd.Env = append(os.Environ(), "HEIR_LIVE_HELPER=udp", fmt.Sprintf("HEIR_LIVE_COUNT=%d", b.N),
		"HEIR_LIVE_TARGET="+hostPort(l.srvIP, 9))
	b.ResetTimer()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var (
		p      packet.Packet
		n      int
		sender = true
		last   = time.Now()
	)
	for {
		// Once the sender is gone, a second without packets also ends the
		// run: the sentinel itself may have been dropped.
		rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
		cp, err := src.Next(rctx)
		rcancel()
		if sender {
			select {
			case err := <-exited:
				if err != nil {
					b.Fatalf("sender: %v", err)
				}
				sender = false
			default:
			}
		}
		if err != nil {
			if !sender && errors.Is(err, context.DeadlineExceeded) {
				break
			}
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			b.Fatal(err)
		}
		n++
		last = time.Now()
		if withSensor {
			s.Packet(cp)
		}
		if packet.Decode(cp.LinkType, cp.Data, &p) == nil && p.Proto == packet.ProtoUDP && p.DstPort == sentinelPort {
			break
		}
	}
	elapsed := last.Sub(start)
	b.StopTimer()
	src.Close()
	ls := src.(*capture.Live).LiveStats()[0]
	b.ReportMetric(float64(n)/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(float64(ls.KernelDrops), "kernel-drops")
	b.ReportMetric(float64(ls.QueueDrops), "queue-drops")
	b.ReportMetric(float64(n), "delivered")
}

// TestLiveInterfaceRemoved deletes the captured interface: capture must end
// with an error that names it, not hang.
func TestLiveInterfaceRemoved(t *testing.T) {
	np := newNetpair(t, 1)
	l := np.links[0]
	src, err := inNetns(np.cli, func() (capture.Source, error) {
		return capture.OpenLive(context.Background(), []string{l.cliIf}, capture.LiveOptions{})
	})
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	defer src.Close()
	run(t, "ip", "-n", np.cli, "link", "del", l.cliIf)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, err := src.Next(ctx)
		if err == nil {
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("capture still running 10s after its interface was deleted: %+v", src.Stats())
		}
		if !strings.Contains(err.Error(), "capture on "+l.cliIf+" stopped") {
			t.Errorf("error %q does not name the interface", err)
		}
		if src.Stats()[0].Error == "" {
			t.Error("Stats has no error")
		}
		t.Logf("after deleting the interface: %v", err)
		return
	}
}

// TestLiveLinkFlap takes the captured link down and up again: capture must
// reopen its socket and go on, and the traffic after the flap must arrive.
func TestLiveLinkFlap(t *testing.T) {
	np := newNetpair(t, 1)
	testenv.Tool(t, "curl")
	l := np.links[0]
	startHTTP(t, np, hostPort(l.srvIP, httpPort))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := inNetns(np.cli, func() (capture.Source, error) {
		return capture.OpenLive(ctx, []string{l.cliIf}, capture.LiveOptions{})
	})
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	defer src.Close()
	live := src.(*capture.Live)
	run(t, "ip", "-n", np.cli, "link", "set", l.cliIf, "down")
	waitFor(t, "capture to see the link go down", func() bool { return live.LiveStats()[0].Error != "" })
	t.Logf("link down: %s", live.LiveStats()[0].Error)
	run(t, "ip", "-n", np.cli, "link", "set", l.cliIf, "up")
	waitFor(t, "capture to reopen", func() bool { return live.LiveStats()[0].Reopens > 0 })
	traffic := make(chan error, 1)
	go func() {
		err := np.client("curl", "-sS", "--noproxy", "*", "--max-time", "10", "-o", "/dev/null", "http://"+hostPort(l.srvIP, httpPort)+"/")
		np.sentinel(l.srvIP)
		traffic <- err
	}()
	rec := &sensortest.Recorder{}
	consume(t, src, sensor.New(sensor.Config{}, nil, rec), np, 60*time.Second)
	if err := <-traffic; err != nil {
		t.Fatalf("traffic: %v", err)
	}
	checkFlow(t, rec.Flows, l, l.cliIP, l.srvIP, httpPort)
	if ls := live.LiveStats()[0]; ls.Reopens != 1 || ls.Error != "" {
		t.Errorf("after the flap: %+v", ls)
	}
}

// waitFor polls cond every few milliseconds for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("gave up waiting for %s after 10s", what)
		}
	}
}

// TestLiveLoopbackAndTun captures on the two kinds of interface that are
// not plain Ethernet: loopback (Ethernet headers with zero MACs) and a tun
// device (no link header: raw IP).
func TestLiveLoopbackAndTun(t *testing.T) {
	np := newNetpair(t, 0)
	testenv.Tool(t, "curl")
	tunName := "ht" + strings.TrimPrefix(np.cli, "heir-c-")
	// The tun device lives as long as this descriptor, in the namespace of
	// the thread that created it.
	tunFD, err := inNetns(np.cli, func() (int, error) {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		ifr, err := unix.NewIfreq(tunName)
		if err == nil {
			ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
			err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
		}
		if err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("create tun %s: %w", tunName, err)
		}
		return fd, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tunFD)
	run(t, "ip", "-n", np.cli, "addr", "add", "10.199.250.1/24", "dev", tunName)
	run(t, "ip", "-n", np.cli, "link", "set", tunName, "up")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := inNetns(np.cli, func() (capture.Source, error) {
		return capture.OpenLive(ctx, []string{"lo", tunName}, capture.LiveOptions{})
	})
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	defer src.Close()
	loop, tunPeer := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.199.250.2")
	go func() {
		np.sentinel(loop)    // SYN and RST on lo
		np.sentinel(tunPeer) // SYN out of the tun device; nobody answers
	}()
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	var p packet.Packet
	syns := [2]int{}
	for syns[0] == 0 || syns[1] == 0 {
		cp, err := src.Next(rctx)
		if err != nil {
			t.Fatalf("Next: %v (SYNs seen %v)", err, syns)
		}
		want := []packet.LinkType{packet.LinkEthernet, packet.LinkRaw}[cp.Input]
		if cp.LinkType != want {
			t.Fatalf("input %d: link type %d, want %d", cp.Input, cp.LinkType, want)
		}
		if err := packet.Decode(cp.LinkType, cp.Data, &p); err != nil {
			t.Fatalf("input %d frame %d: %v", cp.Input, cp.Frame, err)
		}
		if cp.Input == 0 && (!p.HasEth || p.SrcMAC != [6]byte{} || p.DstMAC != [6]byte{}) {
			t.Errorf("loopback frame with MACs %s > %s", packet.MAC(p.SrcMAC), packet.MAC(p.DstMAC))
		}
		if p.Proto == packet.ProtoTCP && p.DstPort == sentinelPort && p.TCPFlags&packet.SYN != 0 {
			if dst := []netip.Addr{loop, tunPeer}[cp.Input]; p.Dst != dst {
				t.Errorf("input %d: SYN to %s, want %s", cp.Input, p.Dst, dst)
			}
			syns[cp.Input]++
		}
	}
	// Loopback packets pass the tap twice, going out and coming in; like
	// libpcap, heir keeps one copy.
	if syns[0] != 1 {
		t.Errorf("loopback: the SYN was captured %d times, want once", syns[0])
	}
}
