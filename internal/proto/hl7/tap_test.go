package hl7

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// tap claims the flows its inner dissector recognises and records their
// reassembled streams instead of dissecting them: real conversations for
// fuzz seeds.
type tap struct {
	proto.Dissector
	streams *[]tapStream
}

type tapStream struct{ dir [2][]byte }

func (t tap) Ports() []uint16 { return nil }

func (t tap) New(*proto.Conn, proto.Sink) proto.Session {
	*t.streams = append(*t.streams, tapStream{})
	return &tapSession{t.streams, len(*t.streams) - 1}
}

type tapSession struct {
	streams *[]tapStream
	i       int
}

func (s *tapSession) Feed(dir proto.Dir, data []byte, _ proto.Meta) (int, bool) {
	st := &(*s.streams)[s.i]
	// Keep seeds small: the fuzzer mutates better.
	if len(st.dir[dir&1]) < 16<<10 {
		st.dir[dir&1] = append(st.dir[dir&1], data...)
	}
	return len(data), false
}

func (s *tapSession) Gap(proto.Dir, int) {}
func (s *tapSession) End(proto.Meta)     {}

// captureStreams returns the conversations d recognises in the shared
// capture rel, or nothing when the shared data is absent: fuzz seeds are
// optional.
func captureStreams(tb testing.TB, d proto.Dissector, rel string) []tapStream {
	tb.Helper()
	dir := os.Getenv("HEIR_DATA")
	if dir == "" {
		root, err := testenv.Root()
		if err != nil {
			return nil
		}
		dir = filepath.Join(root, "..", "shared", "data")
	}
	return fileStreams(tb, d, filepath.Join(dir, rel))
}

// fileStreams returns the conversations d recognises in the capture at
// path, or nothing when it is absent.
func fileStreams(tb testing.TB, d proto.Dissector, path string) []tapStream {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	var streams []tapStream
	sensortest.Run(tb, sensor.Config{}, []proto.Dissector{tap{d, &streams}}, path)
	return streams
}

// TestWriteLabSeeds writes the hospital-lab capture's HL7 conversations
// into the committed fuzz corpus (the lab capture may be copied; nDPI's may
// not). Run with HEIR_WRITE_SEEDS=1 after the capture changes.
func TestWriteLabSeeds(t *testing.T) {
	if os.Getenv("HEIR_WRITE_SEEDS") != "1" {
		t.Skip("set HEIR_WRITE_SEEDS=1 to rewrite testdata/fuzz from the lab capture")
	}
	streams := fileStreams(t, New(), testenv.DataFile(t, "pcap/lab/medlab-dev.pcap"))
	if len(streams) == 0 {
		t.Fatal("no HL7 conversation in the lab capture")
	}
	for _, target := range []string{"FuzzMLLP", "FuzzHL7Message"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range streams {
			var body string
			if target == "FuzzMLLP" {
				body = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\nuint16(1460)\n", s.dir[0], s.dir[1])
			} else {
				// One message, without its MLLP frame.
				m := s.dir[0]
				if end := bytes.IndexByte(m, endBlock); end > 0 && m[0] == startBlock {
					m = m[1:end]
				}
				body = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint16(3)\n", m)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("lab-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
