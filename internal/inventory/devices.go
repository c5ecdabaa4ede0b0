package inventory

import (
	"sort"
	"sync"

	"github.com/heir-emd/heir/internal/vuln"
)

// Devices is the imported inventory: devices by id, a later import of the
// same id replacing the earlier row.
type Devices struct {
	mu sync.Mutex
	m  map[string]Device
}

// NewDevices returns an empty inventory, or one holding list.
func NewDevices(list []Device) *Devices {
	d := &Devices{m: map[string]Device{}}
	d.Put(list)
	return d
}

// Put adds or replaces devices.
func (d *Devices) Put(list []Device) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range list {
		d.m[x.ID] = x
	}
}

// List returns the devices sorted by id.
func (d *Devices) List() []Device {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Device, 0, len(d.m))
	for _, x := range d.m {
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// MatchInputs returns the devices as matching sees them.
func (d *Devices) MatchInputs() []vuln.Device {
	list := d.List()
	out := make([]vuln.Device, len(list))
	for i, x := range list {
		out[i] = x.MatchInput()
	}
	return out
}
