package vuln

import (
	"strings"

	"github.com/heir-emd/heir/internal/event"
)

// DeviceFromAsset is the matching input of a device from the passive
// inventory: its vendor (the IEEE block of its MAC, or a protocol's
// statement), model, firmware, OS and the software the sensor saw
// ("OFFIS_DCMTK_367", "vsftpd 3.0.3", "OpenSSH_8.9p1 Ubuntu-3").
func DeviceFromAsset(a event.Asset) Device {
	d := Device{ID: a.ID, Name: a.Hostname, Vendor: a.Vendor, Model: a.Model, Firmware: a.Firmware, OS: a.OS}
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] || len(d.Software) >= 64 {
			return
		}
		seen[s] = true
		d.Software = append(d.Software, SoftwareComponent(s))
	}
	for _, s := range a.Software {
		add(s)
	}
	for _, sv := range a.Services {
		add(sv.Software)
	}
	return d
}

// SoftwareComponent splits a software banner into a name and a version:
// "vsftpd 3.0.3" → vsftpd 3.0.3; "OpenSSH_8.9p1 Ubuntu-3" → OpenSSH
// 8.9p1; "OFFIS_DCMTK_367" → OFFIS_DCMTK 367; "Apache/2.4.41 (Ubuntu)" →
// Apache 2.4.41. Without a version the whole text is the name.
func SoftwareComponent(s string) Component {
	if len(s) > maxNameLen {
		s = s[:maxNameLen]
	}
	// The version is the first word-part that starts with a digit after
	// a separator (space, /, _, -).
	for i := 1; i < len(s); i++ {
		c := s[i-1]
		if (c == ' ' || c == '/' || c == '_' || c == '-') && s[i] >= '0' && s[i] <= '9' {
			name := strings.TrimRight(s[:i-1], " /_-")
			ver := s[i:]
			if j := strings.IndexAny(ver, " ("); j >= 0 {
				ver = ver[:j]
			}
			if name != "" {
				return Component{Name: name, Version: ver}
			}
		}
	}
	return Component{Name: s}
}
