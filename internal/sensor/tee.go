package sensor

import (
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Tee returns an Output that hands everything to each of outs in order.
func Tee(outs ...Output) Output {
	if len(outs) == 1 {
		return outs[0]
	}
	return tee(outs)
}

type tee []Output

func (t tee) Observe(o *event.Observation) {
	for _, out := range t {
		out.Observe(o)
	}
}

func (t tee) FlowStart(c *proto.Conn, ts time.Time) {
	for _, out := range t {
		out.FlowStart(c, ts)
	}
}

func (t tee) Flow(f *event.Flow) {
	for _, out := range t {
		out.Flow(f)
	}
}

func (t tee) ARP(a *ARP) {
	for _, out := range t {
		out.ARP(a)
	}
}
