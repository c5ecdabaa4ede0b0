// Package capture reads packets: from capture files (pcap with microsecond
// or nanosecond times, pcapng with several interfaces and link types, either
// gzip-compressed), from directories of them, and live from network
// interfaces through AF_PACKET (pure Go, Linux).
//
// A source hands out packets one at a time without copying; the data is
// valid until the next call. Damaged input ends the damaged file, is
// recorded in the source's Stats, and never stops the other inputs.
package capture

import (
	"context"
	"errors"
	"time"

	"github.com/heir-emd/heir/internal/packet"
)

// Packet is one captured frame.
type Packet struct {
	// Data is the captured bytes, valid until the next call to Next.
	Data []byte
	// Time is the capture time.
	Time time.Time
	// WireLen is the frame's length on the wire (Data may be shorter).
	WireLen int
	// LinkType says how to decode Data.
	LinkType packet.LinkType
	// Input is the index of the input (file or interface) the packet came
	// from, in the order the source was given them.
	Input int
	// Frame is the packet's number within its input, from 1.
	Frame uint64
}

// Source yields packets.
type Source interface {
	// Next returns the next packet, io.EOF when there are no more, or the
	// context's error when it is cancelled.
	Next(ctx context.Context) (*Packet, error)
	// Stats reports per-input counters.
	Stats() []InputStats
	// Close releases the source's files or sockets.
	Close() error
}

// InputStats count what one input (file or interface) produced.
type InputStats struct {
	Name    string `json:"name"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Dropped counts packets lost before heir saw them: by the kernel or
	// because the sensor's queue was full.
	Dropped uint64 `json:"dropped,omitempty"`
	// Error says why reading stopped early, if it did.
	Error string `json:"error,omitempty"`
}

// ErrNotCapture says a file is neither pcap nor pcapng (after gzip).
var ErrNotCapture = errors.New("not a pcap or pcapng file")
