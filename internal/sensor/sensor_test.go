package sensor_test

import (
	"encoding/binary"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// TestEveryCaptureIsSafe runs every shared capture (several malformed on
// purpose) through the whole packet path with every dissector, and checks
// that the counters add up and that memory stays bounded.
func TestEveryCaptureIsSafe(t *testing.T) {
	dir := testenv.DataDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "pcap", "*", "*.pcap*"))
	ds := registry.All(registry.Options{})
	for _, f := range files {
		if strings.HasSuffix(f, ".out") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			// A hang shows as the test binary's timeout.
			r := sensortest.Run(t, sensor.Config{}, ds, f)
			s := r.Stats
			accounted := s.IP + s.ARP + s.NonIP + s.Filtered + s.Malformed + s.Defrag.Fragments
			if accounted < s.Frames {
				t.Errorf("%d frames but only %d accounted for: %+v", s.Frames, accounted, s)
			}
			if s.Flow.HeldBytes != 0 || s.Flow.Active != 0 {
				t.Errorf("state left after the end: %d held bytes, %d flows", s.Flow.HeldBytes, s.Flow.Active)
			}
			var pk uint64
			for _, fl := range r.Flows {
				pk += fl.Counts[0].Packets + fl.Counts[1].Packets
			}
			if pk != s.Flow.Packets {
				t.Errorf("flow records hold %d packets, the engine saw %d", pk, s.Flow.Packets)
			}
		})
	}
}

// FuzzPacketPath feeds arbitrary frames of every link type through the
// sensor with every dissector. Each frame in the input is a link-type
// byte, a 2-byte length and the data; frames on a few fixed TCP and UDP
// ports are also synthesised around the fuzzed bytes so that the
// dissectors see them as streams.
func FuzzPacketPath(f *testing.F) {
	f.Add([]byte{1, 0, 4, 1, 2, 3, 4})
	if dir, ok := testenv.OptionalDataDir(); ok {
		files, _ := filepath.Glob(filepath.Join(dir, "pcap", "*", "*.pcap*"))
		for _, file := range files {
			if strings.HasSuffix(file, ".out") {
				continue
			}
			src, err := capture.OpenFiles([]string{file})
			if err != nil {
				continue
			}
			var seed []byte
			for i := 0; i < 20; i++ {
				p, err := src.Next(f.Context())
				if err != nil {
					break
				}
				n := min(len(p.Data), 1500)
				seed = append(seed, byte(p.LinkType))
				seed = binary.BigEndian.AppendUint16(seed, uint16(n))
				seed = append(seed, p.Data[:n]...)
			}
			src.Close()
			f.Add(seed)
		}
	}
	ds := registry.All(registry.Options{})
	f.Fuzz(func(t *testing.T, in []byte) {
		rec := &sensortest.Recorder{}
		cfg := sensor.Config{}
		cfg.Flow.MaxFlows = 64
		cfg.Flow.Budget = 1 << 20
		s := sensor.New(cfg, ds, rec)
		ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var frame uint64
		feed := func(lt packet.LinkType, data []byte) {
			frame++
			ts = ts.Add(time.Millisecond)
			s.Packet(&capture.Packet{Data: data, Time: ts, WireLen: len(data), LinkType: lt, Frame: frame})
		}
		var seq [2]uint32
		for len(in) >= 3 {
			lt := in[0]
			n := int(binary.BigEndian.Uint16(in[1:3]))
			in = in[3:]
			if n > len(in) {
				n = len(in)
			}
			data := in[:n]
			in = in[n:]
			switch lt & 0x0f {
			case 0x0e, 0x0f:
				// A synthesised TCP segment carrying the fuzzed bytes, to one
				// of the dissectors' ports, in either direction.
				dir := int(lt>>4) & 1
				port := []uint16{104, 2575, 1883, 443, 80, 23, 21, 445, 22, 53}[int(lt>>5)%10]
				feed(packet.LinkRaw, tcpFrame(dir, port, seq[dir], data))
				seq[dir] += uint32(len(data))
			case 0x0d:
				port := []uint16{53, 67, 5353, 137}[int(lt>>4)%4]
				feed(packet.LinkRaw, udpFrame(port, data))
			default:
				feed(packet.LinkType(lt), data)
			}
		}
		s.Finish()
		st := s.Stats()
		if st.Flow.HeldBytes != 0 {
			t.Fatalf("%d bytes held after the end", st.Flow.HeldBytes)
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapAlloc > 1<<30 {
			t.Fatalf("heap grew to %d bytes", m.HeapAlloc)
		}
	})
}

func tcpFrame(dir int, port uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(40+len(payload)))
	b[8], b[9] = 64, 6
	a, c := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	sp, dp := uint16(40000), port
	if dir == 1 {
		a, c = c, a
		sp, dp = dp, sp
	}
	copy(b[12:16], a[:])
	copy(b[16:20], c[:])
	binary.BigEndian.PutUint16(b[20:22], sp)
	binary.BigEndian.PutUint16(b[22:24], dp)
	binary.BigEndian.PutUint32(b[24:28], seq)
	b[32] = 5 << 4
	b[33] = 0x18 // PSH ACK
	return append(b, payload...)
}

func udpFrame(port uint16, payload []byte) []byte {
	b := make([]byte, 28, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:4], uint16(28+len(payload)))
	b[8], b[9] = 64, 17
	copy(b[12:16], []byte{10, 0, 0, 3})
	copy(b[16:20], []byte{10, 0, 0, 4})
	binary.BigEndian.PutUint16(b[20:22], 50000)
	binary.BigEndian.PutUint16(b[22:24], port)
	binary.BigEndian.PutUint16(b[24:26], uint16(8+len(payload)))
	return append(b, payload...)
}
