package dicom

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// countingDissector counts the probe's verdicts per flow.
type countingDissector struct {
	*Dissector
	verdicts map[proto.Verdict]int
	unsure   map[string]int
}

func (c *countingDissector) Probe(conn *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	v := c.Dissector.Probe(conn, dir, data)
	c.verdicts[v]++
	if v == proto.Unsure {
		c.unsure[conn.ID]++
	}
	return v
}

// TestNDPINoFalsePositives runs every nDPI capture (none carries DICOM)
// with only this dissector: no flow may be claimed, and the probe must
// give up on each flow at once rather than keep asking for more.
func TestNDPINoFalsePositives(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "pcap", "ndpi")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("read %s: %v", dir, err)
		}
		t.Skipf("read %s: %v", dir, err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".pcap") || strings.HasSuffix(n, ".pcapng") || strings.HasSuffix(n, ".cap") {
			files = append(files, filepath.Join(dir, n))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no captures in %s", dir)
	}
	total := map[proto.Verdict]int{}
	for _, f := range files {
		c := &countingDissector{Dissector: New(), verdicts: map[proto.Verdict]int{}, unsure: map[string]int{}}
		res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{c}, f)
		name := filepath.Base(f)
		for _, o := range res.Observations {
			if o.Proto == Name {
				t.Errorf("%s: DICOM observation %s in flow %s (%v -> %v)", name, o.Kind, o.Flow, o.Src, o.Dst)
				break
			}
		}
		for _, fl := range res.Flows {
			if fl.Proto == Name {
				t.Errorf("%s: flow %s %v -> %v claimed as DICOM", name, fl.ID, fl.Client, fl.Server)
			}
		}
		for id, n := range c.unsure {
			// Unsure only while a plausible PDU header is still short;
			// two answers are enough to see past it.
			if n > 2 {
				t.Errorf("%s: probe unsure %d times on flow %s", name, n, id)
			}
		}
		for v, n := range c.verdicts {
			total[v] += n
		}
	}
	t.Logf("%d captures: %d probes said No, %d Unsure, %d Yes", len(files), total[proto.No], total[proto.Unsure], total[proto.Yes]+total[proto.YesReversed])
}
