package mqtt

import (
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
