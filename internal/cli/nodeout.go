package cli

import (
	"os"
	"path/filepath"
	"time"

	"github.com/heir-emd/heir/internal/bus"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
)

// busOutput hands the sensor's records to the node through the bus
// publisher, which never blocks capture (it queues, spools to disk, and
// drops and counts when both are full).
type busOutput struct{ pub *bus.Publisher }

func (b busOutput) Observe(o *event.Observation)     { b.pub.Publish(event.TypeObservation, o) }
func (b busOutput) Flow(f *event.Flow)               { b.pub.Publish(event.TypeFlow, f) }
func (b busOutput) FlowStart(*proto.Conn, time.Time) {}
func (b busOutput) ARP(*sensor.ARP)                  {}

var _ sensor.Output = busOutput{}

// defaultDataDir is where heir keeps state unless told otherwise:
// $XDG_STATE_HOME/heir, else ~/.local/state/heir.
func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "heir")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "heir")
	}
	return "heir-data"
}
