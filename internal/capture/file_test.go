package capture

import (
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/testenv"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 123456789, time.UTC)

// writePcap writes frames at the given times with gopacket's writer.
func writePcap(t *testing.T, path string, nanos bool, lt layers.LinkType, times ...time.Time) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w *pcapgo.Writer
	if nanos {
		w = pcapgo.NewWriterNanos(f)
	} else {
		w = pcapgo.NewWriter(f)
	}
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	for i, ts := range times {
		data := []byte{byte(i), 1, 2, 3}
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: 60}, data); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t *testing.T, paths ...string) ([]Packet, []InputStats) {
	t.Helper()
	src, err := OpenFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, err := ReadAll(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return out, src.Stats()
}

func TestPcapMicroAndNanoseconds(t *testing.T) {
	dir := t.TempDir()
	us, ns := filepath.Join(dir, "us.pcap"), filepath.Join(dir, "ns.pcap")
	writePcap(t, us, false, layers.LinkTypeEthernet, t0)
	writePcap(t, ns, true, layers.LinkTypeLinuxSLL, t0)
	p, _ := readAll(t, us)
	if !p[0].Time.Equal(t0.Truncate(time.Microsecond)) || p[0].LinkType != packet.LinkEthernet || p[0].WireLen != 60 {
		t.Fatalf("µs: %v %d %d", p[0].Time, p[0].LinkType, p[0].WireLen)
	}
	p, _ = readAll(t, ns)
	if !p[0].Time.Equal(t0) || p[0].LinkType != packet.LinkLinuxSLL {
		t.Fatalf("ns: %v %d", p[0].Time, p[0].LinkType)
	}
}

func TestPcapngSeveralInterfacesAndLinkTypes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multi.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapgo.NewNgWriterInterface(f, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535, TimestampResolution: 9}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535, TimestampResolution: 9})
	if err != nil {
		t.Fatal(err)
	}
	w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: 3, Length: 3, InterfaceIndex: 0}, []byte{1, 2, 3})
	w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(time.Second), CaptureLength: 3, Length: 3, InterfaceIndex: id}, []byte{0x45, 0, 0})
	w.Flush()
	f.Close()
	p, _ := readAll(t, path)
	if len(p) != 2 || p[0].LinkType != packet.LinkEthernet || p[1].LinkType != packet.LinkRaw {
		t.Fatalf("got %d packets, link types %v", len(p), p)
	}
}

func TestGzipAndDirectoryInTimeOrder(t *testing.T) {
	dir := t.TempDir()
	// b.pcap starts first but a.pcap.gz overlaps it: packets must interleave.
	writePcap(t, filepath.Join(dir, "b.pcap"), true, layers.LinkTypeEthernet, t0, t0.Add(2*time.Second), t0.Add(4*time.Second))
	plain := filepath.Join(t.TempDir(), "a.pcap")
	writePcap(t, plain, true, layers.LinkTypeEthernet, t0.Add(time.Second), t0.Add(3*time.Second))
	gzPath := filepath.Join(dir, "a.pcap.gz")
	gzFile, _ := os.Create(gzPath)
	zw := gzip.NewWriter(gzFile)
	raw, _ := os.ReadFile(plain)
	zw.Write(raw)
	zw.Close()
	gzFile.Close()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a capture"), 0o644)

	p, stats := readAll(t, dir)
	if len(p) != 5 {
		t.Fatalf("%d packets", len(p))
	}
	for i := 1; i < len(p); i++ {
		if p[i].Time.Before(p[i-1].Time) {
			t.Fatalf("packet %d out of time order: %v after %v", i, p[i].Time, p[i-1].Time)
		}
	}
	if len(stats) != 2 {
		t.Fatalf("inputs %+v (text files in the directory must be ignored)", stats)
	}
	// Frames are numbered per input.
	if p[0].Frame != 1 || p[1].Frame != 1 || p[2].Frame != 2 {
		t.Fatalf("frames %d %d %d", p[0].Frame, p[1].Frame, p[2].Frame)
	}
}

func TestDamagedInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pcap")
	writePcap(t, good, false, layers.LinkTypeEthernet, t0, t0.Add(time.Second), t0.Add(2*time.Second))
	raw, _ := os.ReadFile(good)
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, raw[:len(raw)-2], 0o644)
	p, stats := readAll(t, cut)
	if len(p) != 2 || !strings.Contains(stats[0].Error, "truncated after packet 2") {
		t.Fatalf("%d packets, error %q", len(p), stats[0].Error)
	}
	junk := filepath.Join(dir, "junk.pcap")
	os.WriteFile(junk, []byte("hello world, not a pcap"), 0o644)
	if _, err := OpenFiles([]string{junk}); !errors.Is(err, ErrNotCapture) {
		t.Fatalf("junk file: %v", err)
	}
	if _, err := OpenFiles([]string{filepath.Join(dir, "missing.pcap")}); err == nil {
		t.Fatal("missing file accepted")
	}
}

// TestSharedCaptures reads every shared capture, several of which are
// pcapng under a .pcap name or damaged on purpose.
func TestSharedCaptures(t *testing.T) {
	dir := testenv.DataDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "pcap", "*", "*.pcap*"))
	var caps []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".out") {
			caps = append(caps, f)
		}
	}
	p, stats := readAll(t, caps...)
	if len(stats) != len(caps) {
		t.Fatalf("%d inputs for %d files", len(stats), len(caps))
	}
	var total uint64
	for _, s := range stats {
		if s.Packets == 0 {
			t.Errorf("%s: no packets (%s)", s.Name, s.Error)
		}
		total += s.Packets
	}
	if int(total) != len(p) || total < 10000 {
		t.Fatalf("%d packets read, stats say %d", len(p), total)
	}
}

func FuzzReader(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.pcap")
	writeSeed := func(name string, ng bool) {
		fh, _ := os.Create(name)
		if ng {
			nw, _ := pcapgo.NewNgWriter(fh, layers.LinkTypeEthernet)
			nw.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: 4, Length: 4}, []byte{1, 2, 3, 4})
			nw.Flush()
		} else {
			pw := pcapgo.NewWriter(fh)
			pw.WriteFileHeader(65535, layers.LinkTypeEthernet)
			pw.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: 4, Length: 4}, []byte{1, 2, 3, 4})
		}
		fh.Close()
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	writeSeed(path, false)
	writeSeed(filepath.Join(dir, "seed.pcapng"), true)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newReader("fuzz", strings.NewReader(string(data)))
		if err != nil {
			return
		}
		var p Packet
		for i := 0; i < 10000; i++ {
			if err := r.next(&p); err != nil {
				return
			}
			if len(p.Data) > 1<<26 {
				t.Fatalf("packet of %d bytes", len(p.Data))
			}
		}
	})
}
