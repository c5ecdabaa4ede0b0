package features

import (
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// The first row of the CICIoMT2024 sample (a Recon-Port_Scan window of 10
// TCP RST/ACK frames of 60 bytes, all at one timestamp), without IAT.
const firstRow = "20.0,6,64.0,inf,0.0,0.0,1.0,0.0,1.0,0.0,0.0,10,0,0,10,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,0.0,0.0,0.0,0.0,0.0,1.0,1.0,600,60,60,60.0,0.0,60.0,10,0.0"

func TestMapReproducesADatasetRow(t *testing.T) {
	// The same ten packets as one heir flow record.
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &event.Flow{Transport: "tcp", Start: at, End: at,
		Client: event.Endpoint{IP: netip.MustParseAddr("192.168.1.5"), Port: 41000},
		Server: event.Endpoint{IP: netip.MustParseAddr("192.168.1.9"), Port: 8081},
		Counts: [2]event.Counts{{Packets: 4, Bytes: 240}, {Packets: 6, Bytes: 360}},
		Features: &event.Features{PktLenMin: 60, PktLenMax: 60, PktLenMean: 60, PktLenStd: 0,
			RST: 10, ACK: 10}}
	m, err := NewMapper(Names[:])
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, m.Len())
	if err := m.Map(f, nil, out); err != nil {
		t.Fatal(err)
	}
	want := strings.Split(firstRow, ",")
	if len(want) != len(out) {
		t.Fatalf("%d columns, row has %d", len(out), len(want))
	}
	for i, w := range want {
		wv := float32(math.Inf(1))
		if w != "inf" {
			x, err := strconv.ParseFloat(w, 64)
			if err != nil {
				t.Fatal(err)
			}
			wv = float32(x)
		}
		if out[i] != wv {
			t.Errorf("%s = %v, dataset row has %v", Names[i], out[i], wv)
		}
	}
}

func TestMapExtraAndOrder(t *testing.T) {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &event.Flow{Transport: "udp", Start: at, End: at.Add(2 * time.Second), Proto: "dns",
		Client:   event.Endpoint{IP: netip.MustParseAddr("fd00::1"), Port: 5353},
		Server:   event.Endpoint{IP: netip.MustParseAddr("fd00::2"), Port: 53},
		Counts:   [2]event.Counts{{Packets: 150}, {Packets: 150}},
		Features: &event.Features{PktLenMin: 80, PktLenMax: 120, PktLenMean: 100, PktLenStd: 20}}
	m, err := NewMapper([]string{"Rate", "Number", "Tot sum", "Variance", "DNS", "UDP", "Time_To_Live", "Header_Length", "cwr_flag_number"})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, m.Len())
	x := &Extra{Known: true, TTLMean: 63, L4HeaderBytes: 300 * 8, CWR: 30}
	if err := m.Map(f, x, out); err != nil {
		t.Fatal(err)
	}
	// 300 packets in 2 s; windows hold at most 100 packets.
	want := []float32{150, 100, 10000, 400, 1, 1, 63, 8, 0.1}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("column %d = %v, want %v", i, out[i], want[i])
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = m.Map(f, x, out) }); n != 0 {
		t.Errorf("Map allocates %v times", n)
	}
}

func TestMapErrors(t *testing.T) {
	if _, err := NewMapper([]string{"Rate", "IAT"}); err == nil || !strings.Contains(err.Error(), `feature 2 "IAT"`) {
		t.Errorf("unknown column: %v", err)
	}
	m, _ := NewMapper([]string{"Rate"})
	if err := m.Map(&event.Flow{Transport: "tcp"}, nil, make([]float32, 1)); !errors.Is(err, ErrNoFeatures) {
		t.Errorf("flow without features: %v", err)
	}
}
