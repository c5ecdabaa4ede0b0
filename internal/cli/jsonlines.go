package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
)

// jsonLines writes events as JSON lines (docs/events.md). It implements
// sensor.Output for flows and observations; assets and statistics are
// written by the command. The first write error is kept and reported by
// flush; later writes are dropped.
type jsonLines struct {
	bw  *bufio.Writer
	enc *json.Encoder
	err error
}

func newJSONLines(w io.Writer) *jsonLines {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonLines{bw: bw, enc: enc}
}

func (j *jsonLines) write(v any) {
	if j.err != nil {
		return
	}
	j.err = j.enc.Encode(v)
}

func (j *jsonLines) flush() error {
	if j.err != nil {
		return j.err
	}
	return j.bw.Flush()
}

func (j *jsonLines) Observe(o *event.Observation)     { j.write(o) }
func (j *jsonLines) Flow(f *event.Flow)               { j.write(f) }
func (j *jsonLines) FlowStart(*proto.Conn, time.Time) {}
func (j *jsonLines) ARP(*sensor.ARP)                  {}

// openOutput opens path for writing; "-" is standard output.
func openOutput(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "-" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}
