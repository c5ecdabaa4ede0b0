package cli

// The constructors of the concrete parts the commands run.

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"github.com/heir-emd/heir/internal/asset"
	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/credential"
	"github.com/heir-emd/heir/internal/filter"
	"github.com/heir-emd/heir/internal/oui"
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

// newInventory returns the device inventory for the home networks nets
// (nil: the private ranges), with vendor names from heir's embedded IEEE
// registry, overlaid by the registry files at ouiPath if given.
func newInventory(nets []netip.Prefix, ouiPath string) (deviceInventory, error) {
	reg, err := oui.Default(ouiPath)
	if err != nil {
		return nil, fmt.Errorf("--oui: %w", err)
	}
	inv, err := asset.New(asset.Config{HomeNets: nets, Vendors: reg})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

func openLive(ctx context.Context, ifaces []string, snaplen int, promisc bool) (capture.Source, error) {
	return capture.OpenLive(ctx, ifaces, capture.LiveOptions{SnapLen: snaplen, Promiscuous: promisc})
}
