package rama

import (
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// Device is everything the score reads about one device. The scorer only
// reads it; slices may be shared between devices (devices of one model
// share their vulnerabilities).
type Device struct {
	ID string `json:"id"`
	// Name is shown beside the id (a host name); it does not affect the score.
	Name string `json:"name,omitempty"`
	// Role is the inventory's role (docs/inventory.md: pacs, modality,
	// infusion-pump, patient-monitor, hl7-engine …); the config maps it to a
	// clinical function and says whether the role handles patient data.
	Role string `json:"role,omitempty"`
	// Function overrides the role's clinical function when set.
	Function Function `json:"function,omitempty"`
	// LifeSustaining marks a device whose failure can kill (ventilator,
	// some pumps): its function counts as life-sustaining whatever else is
	// said.
	LifeSustaining bool `json:"life_sustaining,omitempty"`
	// PHI says the device is known to handle patient data (declared or
	// seen); the role's default and cleartext-PHI findings also say so.
	PHI bool `json:"phi,omitempty"`

	Vulnerabilities []Vulnerability `json:"vulnerabilities,omitempty"`
	Findings        []Finding       `json:"findings,omitempty"`
	EOL             []EOLComponent  `json:"eol,omitempty"`
	Alerts          []Alert         `json:"alerts,omitempty"`
	Exposure        Exposure        `json:"exposure"`
	Controls        []Control       `json:"controls,omitempty"`
}

// Function is a clinical function, in decreasing order of what its
// failure or compromise costs patients.
type Function string

const (
	FunctionLifeSustaining Function = "life-sustaining"
	FunctionTherapy        Function = "therapy"
	FunctionDiagnosis      Function = "diagnosis"
	FunctionMonitoring     Function = "monitoring"
	FunctionSupport        Function = "support"
)

// functions lists the clinical functions from the most to the least
// critical; it is never modified.
var functions = [...]Function{FunctionLifeSustaining, FunctionTherapy, FunctionDiagnosis, FunctionMonitoring, FunctionSupport}

// Status is an analyst's decision on a vulnerability or finding. The
// config says how much each status counts (by default only open ones).
// An unknown or empty status counts as open: a typo must not hide a risk.
type Status string

const (
	StatusOpen          Status = event.StateOpen
	StatusAccepted      Status = event.StateAccepted
	StatusFalsePositive Status = event.StateFalsePositive
	StatusFixed         Status = event.StateFixed
)

// Vulnerability is a known vulnerability (CVE or advisory) matched to the
// device.
type Vulnerability struct {
	ID string `json:"id"`
	// CVSS is the base score (0–10); 0 means not scored, and the config's
	// default is used.
	CVSS float64 `json:"cvss,omitempty"`
	// Vector is the CVSS vector; its attack vector (AV:N/A/L/P) says
	// whether network controls such as segmentation help.
	Vector string `json:"vector,omitempty"`
	// EPSS is FIRST's probability of exploitation activity in the next 30
	// days, nil when unknown; the percentile is shown, not scored.
	EPSS           *float64 `json:"epss,omitempty"`
	EPSSPercentile *float64 `json:"epss_percentile,omitempty"`
	// KEV: listed in CISA's Known Exploited Vulnerabilities catalogue.
	KEV bool `json:"kev,omitempty"`
	// Ransomware: KEV notes use in ransomware campaigns.
	Ransomware bool   `json:"ransomware,omitempty"`
	Status     Status `json:"status,omitempty"`
	// Component names the affected software, for the explanation.
	Component string `json:"component,omitempty"`
}

// Finding is a standing weakness of the device, as the sensor reports it
// (event.Finding, or the inventory's weaknesses).
type Finding struct {
	ID string `json:"id,omitempty"`
	// Kind is an event.WeaknessKind (cleartext-phi, default-credentials …)
	// or another finding kind the config knows.
	Kind string `json:"kind"`
	// Severity: low, medium, high or critical; empty means unrated.
	Severity string `json:"severity,omitempty"`
	Status   Status `json:"status,omitempty"`
	// Detail says where (protocol, port), for the explanation.
	Detail string `json:"detail,omitempty"`
}

// EOLComponent is software or an operating system past (or near) its end
// of support.
type EOLComponent struct {
	Name string    `json:"name"`
	EOL  time.Time `json:"eol"`
	// AsOf is when the component was last confirmed installed; it is shown,
	// not scored.
	AsOf time.Time `json:"as_of,omitzero"`
}

// Direction says whether the device was the target or the source of an
// alert: a device that scans or attacks others is probably compromised.
type Direction string

const (
	DirectionTarget Direction = "target"
	DirectionSource Direction = "source"
)

// Alert is a detection in time that involved the device.
type Alert struct {
	ID       string    `json:"id,omitempty"`
	Time     time.Time `json:"time"`
	Severity string    `json:"severity"`
	// Category is the detector's category (reconnaissance, brute-force …).
	Category string `json:"category"`
	// Direction is target when empty.
	Direction Direction `json:"direction,omitempty"`
	// ENISA holds the alert's own ENISA ETL 2018 tags (1–15), which take
	// precedence over the category's mapping in the config.
	ENISA []int  `json:"enisa,omitempty"`
	Title string `json:"title,omitempty"`
}

// Exposure is how reachable the device is, as observed.
type Exposure struct {
	// Internet: reachable from or talking to addresses outside the
	// hospital.
	Internet bool `json:"internet,omitempty"`
	// FlatNetwork: on a network shared with IT and user devices, with no
	// filtering seen between them.
	FlatNetwork bool `json:"flat_network,omitempty"`
	// Peers is the number of distinct addresses it exchanged traffic with.
	Peers int `json:"peers,omitempty"`
}

// Control is a compensating control the hospital declares for the device.
type Control struct {
	// Kind names a control in the config: segmentation, nac,
	// virtual-patching …
	Kind string `json:"kind"`
	// Strength scales the control's effect, in (0, 1]; 0 means fully
	// deployed (1).
	Strength float64 `json:"strength,omitempty"`
	// Covers limits the control to these vulnerability ids (a virtual
	// patch for one CVE); empty means all of the device's.
	Covers []string `json:"covers,omitempty"`
	Note   string   `json:"note,omitempty"`
}
