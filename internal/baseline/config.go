package baseline

import (
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/heir-emd/heir/internal/asset"
	"github.com/heir-emd/heir/internal/taxonomy"
)

// Limits bound the baseline's memory. When one is reached the least
// recently seen entry is forgotten (provisional values first) and the
// eviction is counted in Stats; nothing grows past a limit.
type Limits struct {
	// MaxDevices bounds the devices followed; when full, the least
	// recently seen device without an open alert is forgotten
	// (Stats.DevicesEvicted), or, if every device has one, the new device
	// is not followed (Stats.DevicesFull).
	MaxDevices int
	// MaxPeers bounds the peers remembered per device. A device that had
	// more peers than this while learning is a hub (a PACS, a DNS server):
	// new peers are normal for it and are not alerted.
	MaxPeers int
	// MaxServices bounds the services (role, transport, port) remembered
	// per device, each with its size and rhythm statistics.
	MaxServices int
	// MaxKinds bounds the message kinds remembered per device.
	MaxKinds int
	// MaxMACs bounds the hardware addresses remembered per device.
	MaxMACs int
	// MaxIncidents bounds the alerts open at once; when full, new
	// incidents are not opened (Stats.IncidentsFull).
	MaxIncidents int
}

// DefaultLimits are sized for a hospital of some thousands of devices:
// an ordinary device costs 2–6 kB; a device whose every set is full costs
// about 40 kB (measured in TestBoundedMemory; docs/baselines.md).
func DefaultLimits() Limits {
	return Limits{MaxDevices: 16384, MaxPeers: 128, MaxServices: 32, MaxKinds: 64, MaxMACs: 4, MaxIncidents: 4096}
}

// Config tunes a Baseline. Zero fields take the defaults of
// DefaultConfig; Validate says what is wrong with the others.
type Config struct {
	// HomeNets hold the devices; nil means asset.DefaultHomeNets (the
	// private ranges). Only an address in them that has sent a packet
	// becomes a device.
	HomeNets []netip.Prefix

	// LearnFor is the learning period, in capture time. Devices seen
	// within LearnFor of the first event the baseline ever saw learn
	// until then (the network's learning period); a device first seen
	// later learns for LearnFor from its first packet.
	LearnFor time.Duration
	// LearnFlows is the fewest flows a device must have shown before its
	// learning ends: learning lasts LearnFor or LearnFlows, whichever
	// ends later …
	LearnFlows int
	// LearnMax … but never longer than this from the device's start, so
	// that a device that rarely talks is protected in the end.
	LearnMax time.Duration

	// Window is the length of the windows in which flows and bytes are
	// counted per device (bursts and volumes).
	Window time.Duration
	// Threshold is how many robust deviations (|x−centre| / spread) a
	// value must be from the learned centre to be anomalous.
	Threshold float64
	// MinScale is the smallest spread used, in natural-log units: a
	// feature whose learned values were all equal still needs
	// exp(Threshold·MinScale) times its usual value to alert (4.5× at the
	// defaults), so that counts of 2 or 3 flows do not alert on 5.
	MinScale float64
	// MinSamples is the fewest values a numeric feature needs before it
	// is scored.
	MinSamples int
	// AdaptRate is the weight of each new normal value in the centre and
	// spread after learning (EWMA): about 1/AdaptRate values to follow a
	// lasting drift.
	AdaptRate float64
	// Clip bounds, in spreads, how far one value moves the centre and the
	// spread (Huber clipping), so that no single value drags the baseline.
	Clip float64
	// ShiftAfter is how long a numeric feature must have been mostly
	// anomalous before its deviation is taken as a lasting change and the
	// feature learns again from new values.
	ShiftAfter time.Duration

	// ConfirmAfter and ConfirmSightings: a new categorical value (peer,
	// service, message kind) is alerted once and kept as provisional; it
	// becomes part of the baseline once seen ConfirmSightings times over
	// at least ConfirmAfter.
	ConfirmAfter     time.Duration
	ConfirmSightings int
	// ForgetAfter: a provisional value not seen again for this long is
	// forgotten, so that its return is alerted again.
	ForgetAfter time.Duration

	// Quiet is how long an incident must have no deviation before its
	// alert is final; Update how often an open alert that changed is
	// emitted again; MaxSpan the longest an incident lasts (a lasting
	// deviation then opens a new alert rather than one that never ends).
	Quiet, Update, MaxSpan time.Duration

	// NoNewDeviceAlerts turns off the alert for a device first seen after
	// the network's learning period (for networks where laptops come and
	// go).
	NoNewDeviceAlerts bool

	// Role, if set, returns the inventory's role of a device (docs/
	// inventory.md); devices whose role is in SensitiveRoles get alerts
	// one severity higher.
	Role func(netip.Addr) string
	// SensitiveRoles: nil means DefaultSensitiveRoles.
	SensitiveRoles []string

	Limits Limits
	// Logger receives limits reached and loads; nil discards.
	Logger *slog.Logger
	// Catalogue tags alerts; nil means taxonomy.New().
	Catalogue *taxonomy.Catalogue
}

// DefaultSensitiveRoles are the inventory roles whose deviations matter
// most: devices that treat or watch patients, and the stores of their
// data.
func DefaultSensitiveRoles() []string {
	return []string{"infusion-pump", "patient-monitor", "ventilator", "medical-telemetry", "modality",
		"pacs", "hl7-engine", "mqtt-broker", "monitoring-station"}
}

// DefaultConfig holds the defaults: a week of learning (a hospital's
// rhythm is weekly: elective imaging and clinics stop at weekends), at
// least 100 flows, never more than four weeks.
var DefaultConfig = Config{
	LearnFor:         7 * 24 * time.Hour,
	LearnFlows:       100,
	LearnMax:         28 * 24 * time.Hour,
	Window:           time.Minute,
	Threshold:        6,
	MinScale:         0.25,
	MinSamples:       8,
	AdaptRate:        0.01,
	Clip:             3,
	ShiftAfter:       24 * time.Hour,
	ConfirmAfter:     24 * time.Hour,
	ConfirmSightings: 3,
	ForgetAfter:      7 * 24 * time.Hour,
	Quiet:            15 * time.Minute,
	Update:           10 * time.Second,
	MaxSpan:          24 * time.Hour,
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setI := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setD(&c.LearnFor, d.LearnFor)
	setI(&c.LearnFlows, d.LearnFlows)
	setD(&c.LearnMax, d.LearnMax)
	setD(&c.Window, d.Window)
	setF(&c.Threshold, d.Threshold)
	setF(&c.MinScale, d.MinScale)
	setI(&c.MinSamples, d.MinSamples)
	setF(&c.AdaptRate, d.AdaptRate)
	setF(&c.Clip, d.Clip)
	setD(&c.ShiftAfter, d.ShiftAfter)
	setD(&c.ConfirmAfter, d.ConfirmAfter)
	setI(&c.ConfirmSightings, d.ConfirmSightings)
	setD(&c.ForgetAfter, d.ForgetAfter)
	setD(&c.Quiet, d.Quiet)
	setD(&c.Update, d.Update)
	setD(&c.MaxSpan, d.MaxSpan)
	if c.LearnMax < c.LearnFor {
		c.LearnMax = c.LearnFor
	}
	l := DefaultLimits()
	setI(&c.Limits.MaxDevices, l.MaxDevices)
	setI(&c.Limits.MaxPeers, l.MaxPeers)
	setI(&c.Limits.MaxServices, l.MaxServices)
	setI(&c.Limits.MaxKinds, l.MaxKinds)
	setI(&c.Limits.MaxMACs, l.MaxMACs)
	setI(&c.Limits.MaxIncidents, l.MaxIncidents)
	if c.HomeNets == nil {
		c.HomeNets = asset.DefaultHomeNets()
	}
	if c.SensitiveRoles == nil {
		c.SensitiveRoles = DefaultSensitiveRoles()
	}
	return c
}

// Validate reports the first setting that cannot work, after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	pos := func(name string, d time.Duration) error {
		if d < 0 {
			return fmt.Errorf("baseline: %s must be positive, got %v", name, d)
		}
		return nil
	}
	for _, x := range []struct {
		n string
		d time.Duration
	}{{"LearnFor", c.LearnFor}, {"LearnMax", c.LearnMax}, {"Window", c.Window}, {"ShiftAfter", c.ShiftAfter},
		{"ConfirmAfter", c.ConfirmAfter}, {"ForgetAfter", c.ForgetAfter}, {"Quiet", c.Quiet}, {"Update", c.Update},
		{"MaxSpan", c.MaxSpan}} {
		if err := pos(x.n, x.d); err != nil {
			return err
		}
	}
	if c.Window < time.Millisecond {
		return fmt.Errorf("baseline: Window must be at least 1ms, got %v", c.Window)
	}
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	if !finite(c.Threshold) || c.Threshold <= 0 {
		return fmt.Errorf("baseline: Threshold must be a positive number of deviations, got %v", c.Threshold)
	}
	if !finite(c.MinScale) || c.MinScale <= 0 {
		return fmt.Errorf("baseline: MinScale must be positive, got %v", c.MinScale)
	}
	if !finite(c.AdaptRate) || c.AdaptRate <= 0 || c.AdaptRate >= 1 {
		return fmt.Errorf("baseline: AdaptRate must be in (0, 1), got %v", c.AdaptRate)
	}
	if !finite(c.Clip) || c.Clip <= 0 {
		return fmt.Errorf("baseline: Clip must be positive, got %v", c.Clip)
	}
	for _, x := range []struct {
		n string
		v int
	}{{"LearnFlows", c.LearnFlows}, {"MinSamples", c.MinSamples}, {"ConfirmSightings", c.ConfirmSightings},
		{"MaxDevices", c.Limits.MaxDevices}, {"MaxPeers", c.Limits.MaxPeers}, {"MaxServices", c.Limits.MaxServices},
		{"MaxKinds", c.Limits.MaxKinds}, {"MaxMACs", c.Limits.MaxMACs}, {"MaxIncidents", c.Limits.MaxIncidents}} {
		if x.v < 1 {
			return fmt.Errorf("baseline: %s must be at least 1, got %d", x.n, x.v)
		}
	}
	if c.MinSamples > seedN {
		return fmt.Errorf("baseline: MinSamples must be at most %d, got %d", seedN, c.MinSamples)
	}
	for _, p := range c.HomeNets {
		if !p.IsValid() {
			return fmt.Errorf("baseline: invalid home network %v", p)
		}
	}
	return nil
}

func (c *Config) sensitive(role string) bool {
	return role != "" && slices.Contains(c.SensitiveRoles, role)
}
