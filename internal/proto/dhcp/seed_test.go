package dhcp

import (
	"testing"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/packet"
)

// seedPayloads returns the UDP payloads of the captures at paths, for fuzz
// seeds taken from shared data at run time.
func seedPayloads(tb testing.TB, paths ...string) [][]byte {
	src, err := capture.OpenFiles(paths)
	if err != nil {
		tb.Logf("no seeds from %v: %v", paths, err)
		return nil
	}
	defer src.Close()
	var out [][]byte
	var p packet.Packet
	for {
		cp, err := src.Next(tb.Context())
		if err != nil {
			return out
		}
		if packet.Decode(cp.LinkType, cp.Data, &p) != nil || len(p.Payload) == 0 {
			continue
		}
		out = append(out, append([]byte(nil), p.Payload...))
	}
}
