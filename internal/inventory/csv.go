package inventory

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/heir-emd/heir/internal/vuln"
)

// Device is one row of an imported inventory.
type Device struct {
	ID               string           `json:"id"`
	Name             string           `json:"name,omitempty"`
	IP               netip.Addr       `json:"ip,omitzero"`
	MAC              string           `json:"mac,omitempty"`
	Vendor           string           `json:"vendor,omitempty"`
	Model            string           `json:"model,omitempty"`
	Serial           string           `json:"serial,omitempty"`
	Firmware         string           `json:"firmware,omitempty"`
	OS               string           `json:"os,omitempty"`
	Role             string           `json:"role,omitempty"`
	ClinicalFunction string           `json:"clinical_function,omitempty"`
	Location         string           `json:"location,omitempty"`
	Criticality      string           `json:"criticality,omitempty"`
	Software         []vuln.Component `json:"software,omitempty"`
	Line             int              `json:"line"` // where it was read, for messages
}

// LogValue keeps a device's location and name out of logs at their full
// length: they can identify a ward or a patient's room.
func (d Device) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", d.ID), slog.String("vendor", d.Vendor), slog.String("model", d.Model), slog.Int("line", d.Line))
}

// MatchInput is the device as matching sees it.
func (d Device) MatchInput() vuln.Device {
	return vuln.Device{ID: d.ID, Name: d.Name, Vendor: d.Vendor, Model: d.Model, Firmware: d.Firmware, OS: d.OS, Software: d.Software}
}

// Columns: the header names understood, each with the names it may go by
// in exports (compared lower-case, with spaces, dashes and underscores
// alike).
var columns = map[string][]string{
	"id":                {"id", "asset id", "asset tag", "device id"},
	"name":              {"name", "device name", "hostname", "host name"},
	"ip":                {"ip", "ip address", "ipv4", "address"},
	"mac":               {"mac", "mac address"},
	"vendor":            {"vendor", "manufacturer", "make"},
	"model":             {"model", "device model"},
	"serial":            {"serial", "serial number"},
	"firmware":          {"firmware", "firmware version", "version", "software version"},
	"os":                {"os", "operating system"},
	"role":              {"role", "device type", "type"},
	"clinical_function": {"clinical function", "function"},
	"location":          {"location", "department", "ward", "site"},
	"criticality":       {"criticality", "risk class", "priority"},
	"software":          {"software", "components"},
}

// Criticality values.
var criticalities = map[string]string{
	"low": "low", "medium": "medium", "high": "high", "critical": "critical", "life-sustaining": "critical",
	"life sustaining": "critical", "1": "low", "2": "medium", "3": "high", "4": "critical",
}

// Clinical functions (DESIGN.md): therapy > diagnosis > monitoring > support.
var clinicalFunctions = map[string]string{
	"therapy": "therapy", "therapeutic": "therapy", "life-sustaining": "therapy", "life sustaining": "therapy",
	"diagnosis": "diagnosis", "diagnostic": "diagnosis", "imaging": "diagnosis",
	"monitoring": "monitoring", "monitor": "monitoring",
	"support": "support", "it": "support", "administrative": "support",
}

// Limits: rows and field lengths that no real inventory needs.
const (
	maxRows     = 1_000_000
	maxFieldLen = 1024
	maxSoftware = 64
)

// CSVResult is what a CSV import read.
type CSVResult struct {
	Devices  []Device
	Problems []vuln.Problem
}

// ReadCSV reads a device inventory. The first row is the header (names in
// Columns, any order, case-insensitive; unknown columns are reported and
// ignored). A row needs a name, an IP or a MAC; a row with a bad IP, MAC,
// criticality or clinical function is reported by line and column name
// and skipped; nothing else is lost. The separator is a comma, or a
// semicolon when the header has more of those (spreadsheet exports in
// many European locales).
func ReadCSV(file string, r io.Reader) (*CSVResult, error) {
	br := newPeekReader(r)
	sep := ','
	if head, err := br.peekLine(); err == nil && strings.Count(head, ";") > strings.Count(head, ",") {
		sep = ';'
	}
	cr := csv.NewReader(br)
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	hdr, err := cr.Read()
	if err != nil {
		return nil, vuln.Fatal(vuln.Problem{File: file, Line: 1, Msg: "no header row: " + err.Error()})
	}
	res := &CSVResult{}
	colOf := map[int]string{}
	have := map[string]bool{}
	for i, h := range hdr {
		key := headerKey(h)
		found := ""
		for col, names := range columns {
			for _, n := range names {
				if key == n {
					found = col
				}
			}
		}
		if found == "" {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Line: 1, Column: i + 1, Msg: fmt.Sprintf("unknown column %q ignored", clip(h))})
			continue
		}
		if have[found] {
			return nil, vuln.Fatal(vuln.Problem{File: file, Line: 1, Column: i + 1, Msg: fmt.Sprintf("column %s given twice", found)})
		}
		have[found] = true
		colOf[i] = found
	}
	if !have["name"] && !have["ip"] && !have["mac"] && !have["id"] {
		return nil, vuln.Fatal(vuln.Problem{File: file, Line: 1, Msg: "the header names none of id, name, ip, mac: no row could name its device"})
	}
	ids := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos is defined only after a successful Read.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				res.Problems = append(res.Problems, vuln.Problem{File: file, Line: pe.Line, Column: pe.Column, Msg: pe.Err.Error() + "; reading stopped, the rows before are kept"})
			} else {
				res.Problems = append(res.Problems, vuln.Problem{File: file, Msg: err.Error() + "; reading stopped, the rows before are kept"})
			}
			break
		}
		line, _ := cr.FieldPos(0)
		if len(res.Devices) >= maxRows {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Line: line, Msg: fmt.Sprintf("more than %d rows; the rest ignored", maxRows)})
			break
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		d := Device{Line: line}
		bad := false
		for i, v := range rec {
			col, ok := colOf[i]
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			if len(v) > maxFieldLen {
				res.Problems = append(res.Problems, vuln.Problem{File: file, Line: line, Column: i + 1, Msg: fmt.Sprintf("%s longer than %d bytes; cut", col, maxFieldLen)})
				v = v[:maxFieldLen]
			}
			if v == "" {
				continue
			}
			switch col {
			case "id":
				d.ID = v
			case "name":
				d.Name = v
			case "ip":
				a, err := netip.ParseAddr(v)
				if err != nil {
					res.Problems = append(res.Problems, vuln.Problem{File: file, Line: line, Column: i + 1, Msg: fmt.Sprintf("ip %q is not an IP address; row skipped", clip(v))})
					bad = true
					continue
				}
				d.IP = a.Unmap()
			case "mac":
				hw, err := net.ParseMAC(v)
				if err != nil || len(hw) != 6 {
					res.Problems = append(res.Problems, vuln.Problem{File: file, Line: line, Column: i + 1, Msg: fmt.Sprintf("mac %q is not a 48-bit MAC address; row skipped", clip(v))})
					bad = true
					continue
				}
				d.MAC = hw.String()
			case "vendor":
				d.Vendor = v
			case "model":
				d.Model = v
			case "serial":
				d.Serial = v
			case "firmware":
				d.Firmware = v
			case "os":
				d.OS = v
			case "role":
				d.Role = v
			case "clinical_function":
				cf, ok := clinicalFunctions[strings.ToLower(v)]
				if !ok {
					res.Problems = append(res.Problems, vuln.Problem{File: file, Line: line, Column: i + 1, Msg: fmt.Sprintf("clinical function %q: want therapy, diagnosis, monitoring or support; row skipped", clip(v))})
					bad = true
					continue
				}
				d.ClinicalFunction = cf
			case "location":
				d.Location = v
			case "criticality":
				c, ok := criticalities[strings.ToLower(v)]
				if !ok {
					res.Problems = append(res.Problems, vuln.Problem{File: file, Line: line, Column: i + 1, Msg: fmt.Sprintf("criticality %q: want low, medium, high, critical (or 1-4); row skipped", clip(v))})
					bad = true
					continue
				}
				d.Criticality = c
			case "software":
				// "name version; name version": a short list of what runs on it.
				for _, s := range strings.Split(v, ";") {
					if s = strings.TrimSpace(s); s != "" && len(d.Software) < maxSoftware {
						d.Software = append(d.Software, vuln.SoftwareComponent(s))
					}
				}
			}
		}
		if bad {
			continue
		}
		if d.ID == "" {
			d.ID = deviceID(d)
		}
		if d.ID == "" {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Line: line, Msg: "row has no id, name, ip or mac; skipped"})
			continue
		}
		if prev, dup := ids[d.ID]; dup {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Line: line, Msg: fmt.Sprintf("device %s already on line %d; this row skipped", d.ID, prev)})
			continue
		}
		ids[d.ID] = line
		res.Devices = append(res.Devices, d)
	}
	return res, nil
}

// deviceID derives the id the passive inventory would give the device
// (docs/inventory.md): mac-<12 hex digits>, else ip-<address>, so an
// imported device and the one the sensor sees are the same; else
// name-<name>.
func deviceID(d Device) string {
	switch {
	case d.MAC != "":
		return "mac-" + strings.ReplaceAll(d.MAC, ":", "")
	case d.IP.IsValid():
		return "ip-" + d.IP.String()
	case d.Name != "":
		return "name-" + strings.ToLower(strings.Join(strings.Fields(d.Name), "-"))
	}
	return ""
}

func headerKey(h string) string {
	h = strings.TrimPrefix(h, "\ufeff")
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.NewReplacer("_", " ", "-", " ").Replace(h)
	return strings.Join(strings.Fields(h), " ")
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
