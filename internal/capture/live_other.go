//go:build !linux

package capture

import (
	"context"
	"errors"
)

// ErrLiveUnsupported says live capture is not available on this system.
var ErrLiveUnsupported = errors.New("live capture needs Linux (AF_PACKET); read capture files instead")

// OpenLive captures from network interfaces; heir only does so on Linux.
func OpenLive(ctx context.Context, ifaces []string, opts LiveOptions) (Source, error) {
	return nil, ErrLiveUnsupported
}
