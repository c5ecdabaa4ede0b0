package asset

import (
	"fmt"

	"github.com/heir-emd/heir/internal/event"
	"net/netip"
	"time"
)

// Vendors names the organisation a MAC address block belongs to; the
// oui package's Registry is one.
type Vendors interface {
	Lookup(mac [6]byte) (string, bool)
}

// Config tunes and bounds the inventory. Zero fields take the defaults in
// DefaultConfig.
type Config struct {
	// HomeNets are the networks whose addresses are devices. Addresses
	// outside them are peers, unless ARP or DHCP bound them to a MAC on the
	// monitored link. Default: RFC 1918, 100.64.0.0/10 (shared address
	// space), 169.254.0.0/16, fc00::/7, fe80::/10. Sites that number
	// devices from public space (or use global IPv6) must add those
	// prefixes.
	HomeNets []netip.Prefix
	// Vendors resolves MAC vendors; nil uses no vendor names.
	Vendors Vendors
	// Rules infer roles; nil uses DefaultRules().
	Rules []Rule

	// MaxDevices bounds the address records and, separately, the MAC
	// records. When full, the least recently seen record is evicted and
	// counted (Stats.Evicted) and its asset reported by Removed.
	MaxDevices int
	// MaxValues bounds the values kept per attribute of a record (host
	// names, topics, software …), and so the evidence rendered per
	// attribute. When full, a new value replaces the weakest, oldest one.
	MaxValues int
	// MaxIPs bounds the addresses bound to one MAC; the least recently
	// confirmed one is unbound when a new one arrives.
	MaxIPs int
	// MaxServices bounds the services per record; new ones are dropped
	// and counted when full.
	MaxServices int
	// MaxPeers bounds the distinct peers remembered per record. The count
	// saturates there: a device reporting MaxPeers talked to at least
	// that many.
	MaxPeers int
	// MaxTopPeers bounds the peers an asset lists with their protocols,
	// flows and bytes (the ones with most bytes; twice as many are
	// tracked per record so that a newcomer can climb).
	MaxTopPeers int
	// MaxWeaknesses bounds the distinct weaknesses per record; new ones
	// are dropped and counted when full.
	MaxWeaknesses int
	// MaxProtocols bounds the protocols listed per record.
	MaxProtocols int
	// MaxTargets bounds the failed connection targets and ARP targets
	// remembered per record for scan detection; counts saturate there.
	MaxTargets int

	// RouterIPs is how many IPv4 addresses one MAC may carry within
	// RouterWindow before the inventory calls it a router and stops
	// merging those addresses into it. Any IPv4 address outside HomeNets
	// carried by the MAC (and not claimed by it in ARP) makes it a router
	// at once. RouterIPv6 is the same bound for IPv6 addresses other than
	// link-local ones (hosts hold several: temporary addresses rotate).
	RouterIPs    int
	RouterIPv6   int
	RouterWindow time.Duration
	// BindingTTL is how long an ARP or DHCP binding of an address to a MAC
	// outranks the weaker evidence of flows' Ethernet addresses.
	BindingTTL time.Duration
	// ScanWindow is the window over which failed connection targets and
	// unanswered ARP requests are counted for the scanner role; a scan is
	// remembered for one to two windows.
	ScanWindow time.Duration
	// MaxHistory bounds the previous MACs remembered per address.
	MaxHistory int
	// Refresh makes Changes report a device again when it was seen this
	// long after it was last reported, even if nothing else changed, so
	// that a consumer's last-seen times stay fresh.
	Refresh time.Duration
}

// DefaultHomeNets returns the private, shared and link-local ranges.
func DefaultHomeNets() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("fc00::/7"),
		netip.MustParsePrefix("fe80::/10"),
	}
}

// DefaultConfig holds the defaults. At the default bounds a record costs
// at most a few tens of kilobytes (peers and targets dominate), and a
// typical one under two.
var DefaultConfig = Config{
	MaxDevices:    1 << 16,
	MaxValues:     8,
	MaxIPs:        16,
	MaxServices:   64,
	MaxPeers:      512,
	MaxTopPeers:   20,
	MaxWeaknesses: 64,
	MaxProtocols:  32,
	MaxTargets:    256,
	RouterIPs:     4,
	RouterIPv6:    16,
	RouterWindow:  time.Hour,
	BindingTTL:    4 * time.Hour,
	MaxHistory:    4,
	ScanWindow:    time.Hour,
	Refresh:       15 * time.Minute,
}

func (c *Config) defaults() {
	d := DefaultConfig
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.MaxDevices, d.MaxDevices)
	set(&c.MaxValues, d.MaxValues)
	set(&c.MaxIPs, d.MaxIPs)
	set(&c.MaxServices, d.MaxServices)
	set(&c.MaxPeers, d.MaxPeers)
	set(&c.MaxTopPeers, d.MaxTopPeers)
	set(&c.MaxWeaknesses, d.MaxWeaknesses)
	set(&c.MaxProtocols, d.MaxProtocols)
	set(&c.MaxTargets, d.MaxTargets)
	set(&c.RouterIPs, d.RouterIPs)
	set(&c.RouterIPv6, d.RouterIPv6)
	set(&c.MaxHistory, d.MaxHistory)
	if c.RouterWindow <= 0 {
		c.RouterWindow = d.RouterWindow
	}
	if c.ScanWindow <= 0 {
		c.ScanWindow = d.ScanWindow
	}
	if c.Refresh <= 0 {
		c.Refresh = d.Refresh
	}
	if c.BindingTTL <= 0 {
		c.BindingTTL = d.BindingTTL
	}
	if c.HomeNets == nil {
		c.HomeNets = DefaultHomeNets()
	}
}

// ParseHomeNets reads home networks written as CIDR prefixes
// ("10.0.0.0/8"), for configuration files and flags.
func ParseHomeNets(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("home network %q: %w (write it as a prefix, such as 10.0.0.0/8)", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// maxValues is the bound on values of attribute a: protocols have their
// own.
func (c *Config) maxValues(a event.Attr) int {
	if a == attrProtocol {
		return c.MaxProtocols
	}
	return c.MaxValues
}
