package cli

// TEMPORARY wiring until the filter, credential, asset and live-capture
// packages land; replaced by the real constructors.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/credential"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/filter"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/sensor"
)

func parseFilter(expr string) (sensor.Matcher, error) {
	f, err := filter.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("--filter: %w", err)
	}
	return f, nil
}

// loadCredentials returns heir's known-default credentials, with the
// entries of the file at extra (if any) added.
func loadCredentials(extra string) (registry.DefaultChecker, error) {
	list := credential.Defaults()
	if extra == "" {
		return list, nil
	}
	f, err := os.Open(extra)
	if err != nil {
		return nil, fmt.Errorf("--credentials: %w", err)
	}
	defer f.Close()
	more, err := credential.Load(f)
	if err != nil {
		return nil, fmt.Errorf("--credentials %s: %w", extra, err)
	}
	return credential.Merge(list, more), nil
}

type nopInventory struct{}

func (nopInventory) Observe(*event.Observation)       {}
func (nopInventory) FlowStart(*proto.Conn, time.Time) {}
func (nopInventory) Flow(*event.Flow)                 {}
func (nopInventory) ARP(*sensor.ARP)                  {}
func (nopInventory) Assets() []event.Asset            { return nil }
func (nopInventory) Changed() []event.Asset           { return nil }

func newInventory([]netip.Prefix) (inventory, error) { return nopInventory{}, nil }

func openLive(ctx context.Context, ifaces []string, snaplen int, promisc bool) (capture.Source, error) {
	return capture.OpenLive(ctx, ifaces, capture.LiveOptions{SnapLen: snaplen, Promiscuous: promisc})
}
