// Package event holds the records the sensor publishes: flows, observations
// and assets. Their JSON encoding is a stable, versioned wire format
// (documented in docs/events.md); change it only by adding optional fields,
// or by raising Version.
//
// The package depends on nothing else in heir, so that every tier can share
// it.
package event

import (
	"net/netip"
	"time"
)

// Version is the wire version carried in every record's "v" field.
const Version = 1

// Record types, carried in every record's "type" field.
const (
	TypeFlow        = "flow"
	TypeObservation = "observation"
	TypeAsset       = "asset"
	TypeStats       = "stats"
)

// Endpoint is one end of a conversation.
type Endpoint struct {
	IP   netip.Addr `json:"ip"`
	Port uint16     `json:"port,omitempty"`
	MAC  string     `json:"mac,omitempty"`
}

// About names which endpoint of an observation a fact or weakness concerns.
type About string

const (
	AboutSrc About = "src"
	AboutDst About = "dst"
)

// Observation is one thing a dissector learnt from a conversation: a DICOM
// association, an HL7 message, a login attempt. Detail holds the
// protocol-specific fields (a typed struct of the dissector's package);
// Facts feed the device inventory; Weaknesses are what a security engineer
// must know (cleartext PHI, cleartext credentials, obsolete TLS …).
//
// Observations never carry patient data or secrets: dissectors record that
// such data travelled, and where (attribute tags, segment names), not what
// it was.
type Observation struct {
	V          int        `json:"v"`
	Type       string     `json:"type"`
	Time       time.Time  `json:"time"`
	Flow       string     `json:"flow"`
	Frame      uint64     `json:"frame,omitempty"`
	Src        Endpoint   `json:"src"`
	Dst        Endpoint   `json:"dst"`
	VLAN       uint16     `json:"vlan,omitempty"`
	Dir        Dir        `json:"dir,omitempty"`
	Transport  string     `json:"transport"`
	Proto      string     `json:"proto"`
	Kind       string     `json:"kind"`
	Detail     any        `json:"detail,omitempty"`
	Facts      []Fact     `json:"facts,omitempty"`
	Weaknesses []Weakness `json:"weaknesses,omitempty"`
}

// Dir says which way a message went relative to its flow's roles.
type Dir string

const (
	// ToServer: the sender (src) is the flow's client.
	ToServer Dir = "to-server"
	// ToClient: the sender (src) is the flow's server.
	ToClient Dir = "to-client"
)

// Fact is one attribute of a device that a message revealed, such as the
// software version in a DICOM association or a DHCP host name.
type Fact struct {
	About      About   `json:"about"`
	Attr       Attr    `json:"attr"`
	Value      string  `json:"value"`
	Confidence float64 `json:"confidence"`
}

// Attr names a device attribute.
type Attr string

// Device attributes the inventory keeps. Service facts have values such as
// "tcp/4242 dicom"; protocol facts a protocol name.
const (
	AttrHostname Attr = "hostname"
	AttrVendor   Attr = "vendor"
	AttrModel    Attr = "model"
	AttrFirmware Attr = "firmware"
	AttrSoftware Attr = "software"
	AttrOS       Attr = "os"
	AttrRole     Attr = "role"
	AttrDomain   Attr = "domain"
	// AttrClient marks a device as the client of a protocol (value: the
	// protocol, optionally followed by a colon and an activity such as
	// "dicom:c-store"), which role inference uses.
	AttrClient Attr = "client"
	// AttrServer marks a device as the server of a protocol, in the same
	// form as AttrClient.
	AttrServer Attr = "server"
	// AttrAETitle is a DICOM application entity title.
	AttrAETitle Attr = "dicom-ae"
	// AttrHL7App is an HL7 sending or receiving application^facility.
	AttrHL7App Attr = "hl7-app"
	// AttrMQTTTopic is an MQTT topic the device publishes to.
	AttrMQTTTopic Attr = "mqtt-topic"
	// AttrDHCPFingerprint is the DHCP parameter request list, a strong
	// signal for the device's operating system.
	AttrDHCPFingerprint Attr = "dhcp-fingerprint"
	// AttrVendorClass is the DHCP vendor class identifier.
	AttrVendorClass Attr = "dhcp-vendor-class"
	// AttrCertSubject is the subject of a TLS certificate the device presented.
	AttrCertSubject Attr = "tls-cert-subject"
	// AttrUserAgent is an HTTP User-Agent the device sent.
	AttrUserAgent Attr = "user-agent"
	// AttrMAC is a hardware address a protocol states the device holds
	// (DHCP's chaddr): it binds the device's IP address to its MAC even
	// when the message came from 0.0.0.0 or went to broadcast.
	AttrMAC Attr = "mac"
	// AttrIP is an IP address a protocol states the device holds (the
	// address a DHCP server assigned it).
	AttrIP Attr = "ip"
	// AttrBanner is text a service shows about itself (a Telnet or FTP
	// banner, a message of the day, an HTTP realm), bounded and stripped of
	// control characters; the inventory reads device kinds and models from it.
	AttrBanner Attr = "banner"
)

// Weakness is a security-relevant property seen on the wire.
type Weakness struct {
	Kind   WeaknessKind `json:"kind"`
	About  About        `json:"about"`
	Detail string       `json:"detail"`
}

// WeaknessKind names a class of weakness.
type WeaknessKind string

const (
	// WeakCleartextPHI: patient-identifying data travelled unencrypted.
	WeakCleartextPHI WeaknessKind = "cleartext-phi"
	// WeakCleartextCredentials: a user name and password travelled unencrypted.
	WeakCleartextCredentials WeaknessKind = "cleartext-credentials"
	// WeakDefaultCredentials: a login used a known default credential.
	WeakDefaultCredentials WeaknessKind = "default-credentials"
	// WeakObsoleteTLS: TLS or SSL below version 1.2 was negotiated or offered.
	WeakObsoleteTLS WeaknessKind = "obsolete-tls"
	// WeakCipher: a weak cipher suite (export, NULL, RC4, DES, 3DES, anon) was negotiated.
	WeakCipher WeaknessKind = "weak-cipher"
	// WeakCertificate: self-signed, SHA-1 or MD5 signed, short key or expired certificate.
	WeakCertificate WeaknessKind = "weak-certificate"
	// WeakSMBv1: the SMB version 1 dialect was offered or negotiated.
	WeakSMBv1 WeaknessKind = "smbv1"
	// WeakCleartextLogin: a login protocol without encryption (Telnet, FTP,
	// plain HTTP authentication) is offered.
	WeakCleartextLogin WeaknessKind = "cleartext-login"
	// WeakUnauthenticated: a service accepted a session without any credential.
	WeakUnauthenticated WeaknessKind = "unauthenticated-access"
)

// Flow is a finished (or periodically exported) bidirectional conversation.
// Client is the endpoint that opened it when that could be seen.
type Flow struct {
	V          int       `json:"v"`
	Type       string    `json:"type"`
	ID         string    `json:"id"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Transport  string    `json:"transport"`
	VLAN       uint16    `json:"vlan,omitempty"`
	Client     Endpoint  `json:"client"`
	Server     Endpoint  `json:"server"`
	Proto      string    `json:"proto,omitempty"`
	Parent     string    `json:"parent,omitempty"`
	Reason     string    `json:"reason"`
	Counts     [2]Counts `json:"counts"`
	ClientTCP  string    `json:"client_tcp_flags,omitempty"`
	ServerTCP  string    `json:"server_tcp_flags,omitempty"`
	Gaps       uint64    `json:"gaps,omitempty"`
	Truncated  bool      `json:"truncated,omitempty"`
	Features   *Features `json:"features,omitempty"`
	ICMPType   *uint8    `json:"icmp_type,omitempty"`
	Continuing bool      `json:"continuing,omitempty"`
}

// Counts are one direction's counters: Counts[0] client to server,
// Counts[1] server to client.
type Counts struct {
	Packets      uint64 `json:"packets"`
	Bytes        uint64 `json:"bytes"`
	PayloadBytes uint64 `json:"payload_bytes"`
}

// Features summarise a flow's packet sizes and timing, the inputs of the
// flow classifiers.
type Features struct {
	PktLenMin  uint32  `json:"pkt_len_min"`
	PktLenMax  uint32  `json:"pkt_len_max"`
	PktLenMean float64 `json:"pkt_len_mean"`
	PktLenStd  float64 `json:"pkt_len_std"`
	IATMeanMS  float64 `json:"iat_mean_ms"`
	IATStdMS   float64 `json:"iat_std_ms"`
	IATMaxMS   float64 `json:"iat_max_ms"`
	SYN        uint32  `json:"syn"`
	FIN        uint32  `json:"fin"`
	RST        uint32  `json:"rst"`
	PSH        uint32  `json:"psh"`
	ACK        uint32  `json:"ack"`
	URG        uint32  `json:"urg"`
}

// Asset is a device in the passive inventory, as last seen.
type Asset struct {
	V          int             `json:"v"`
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	MAC        string          `json:"mac,omitempty"`
	IPs        []netip.Addr    `json:"ips,omitempty"`
	VLAN       uint16          `json:"vlan,omitempty"`
	Vendor     string          `json:"vendor,omitempty"`
	Hostname   string          `json:"hostname,omitempty"`
	Role       string          `json:"role,omitempty"`
	Model      string          `json:"model,omitempty"`
	Firmware   string          `json:"firmware,omitempty"`
	Software   []string        `json:"software,omitempty"`
	OS         string          `json:"os,omitempty"`
	Services   []Service       `json:"services,omitempty"`
	Protocols  []string        `json:"protocols,omitempty"`
	Peers      int             `json:"peers"`
	FirstSeen  time.Time       `json:"first_seen"`
	LastSeen   time.Time       `json:"last_seen"`
	Evidence   []Evidence      `json:"evidence,omitempty"`
	Weaknesses []AssetWeakness `json:"weaknesses,omitempty"`
	// TopPeers are the addresses the device exchanged most bytes with
	// (bounded: the inventory's MaxTopPeers), of the distinct Peers.
	TopPeers []Peer `json:"top_peers,omitempty"`
}

// Peer is an address a device exchanged traffic with, and how much.
type Peer struct {
	IP netip.Addr `json:"ip"`
	// Asset is the peer's asset id when the inventory knows it as a
	// device.
	Asset string `json:"asset,omitempty"`
	// Protocols are the flows' protocols, or transport/port of the
	// server when no dissector recognised them.
	Protocols []string  `json:"protocols,omitempty"`
	Flows     uint64    `json:"flows"`
	Bytes     uint64    `json:"bytes"`
	LastSeen  time.Time `json:"last_seen"`
}

// Service is a port a device answered on.
type Service struct {
	Transport string `json:"transport"`
	Port      uint16 `json:"port"`
	Proto     string `json:"proto,omitempty"`
	Software  string `json:"software,omitempty"`
}

// Evidence says why the inventory believes one attribute value: which
// observation (flow, frame, protocol message) said so, and how sure it is.
type Evidence struct {
	Attr       Attr      `json:"attr"`
	Value      string    `json:"value"`
	Confidence float64   `json:"confidence"`
	Source     string    `json:"source"`
	Flow       string    `json:"flow,omitempty"`
	Frame      uint64    `json:"frame,omitempty"`
	Time       time.Time `json:"time"`
}

// AssetWeakness is a weakness seen on a device, with how often and when.
type AssetWeakness struct {
	Kind      WeaknessKind `json:"kind"`
	Proto     string       `json:"proto"`
	Detail    string       `json:"detail"`
	Count     uint64       `json:"count"`
	FirstSeen time.Time    `json:"first_seen"`
	LastSeen  time.Time    `json:"last_seen"`
	Flow      string       `json:"flow,omitempty"`
}

// Record types of the threat-hunting tier.
const (
	TypeFinding = "finding"
	TypeAlert   = "alert"
)

// Severities of findings and alerts, in increasing order.
const (
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Taxonomies findings and alerts are tagged with.
const (
	TaxENISA     = "enisa-etl-2018" // ENISA Threat Landscape 2018 top 15
	TaxOWASP     = "owasp-2021"     // OWASP Top 10 (2021)
	TaxOWASPIoT  = "owasp-iot-2018" // OWASP IoT Top 10 (2018)
	TaxATTACK    = "attack"         // MITRE ATT&CK Enterprise or ICS technique
	TaxOWASP2025 = "owasp-2025"     // OWASP Top 10 (2025), beside 2021
)

// Tag places a finding or alert in a threat taxonomy, with the reason it
// belongs there.
type Tag struct {
	Taxonomy string `json:"taxonomy"`
	ID       string `json:"id"`
	Name     string `json:"name"`
	Reason   string `json:"reason,omitempty"`
}

// Finding is a standing weakness of a device (cleartext PHI, default
// credentials, obsolete TLS, a vulnerable component …): it stays until
// fixed, and analysts can accept it or call it a false positive. Its ID is
// derived from the device, kind and what it is about, so that sightings of
// the same weakness update one finding.
type Finding struct {
	V           int         `json:"v"`
	Type        string      `json:"type"`
	ID          string      `json:"id"`
	Rule        string      `json:"rule"`
	Kind        string      `json:"kind"`
	Title       string      `json:"title"`
	Severity    string      `json:"severity"`
	Asset       string      `json:"asset,omitempty"`
	Endpoint    Endpoint    `json:"endpoint"`
	Proto       string      `json:"proto,omitempty"`
	Detail      string      `json:"detail"`
	FirstSeen   time.Time   `json:"first_seen"`
	LastSeen    time.Time   `json:"last_seen"`
	Count       uint64      `json:"count"`
	Evidence    []Reference `json:"evidence,omitempty"`
	Tags        []Tag       `json:"tags"`
	Remediation string      `json:"remediation,omitempty"`
	// State is open when the sensor reports it; the node keeps analysts'
	// decisions: accepted, false-positive, fixed.
	State string `json:"state"`
}

// Finding states.
const (
	StateOpen          = "open"
	StateAccepted      = "accepted"
	StateFalsePositive = "false-positive"
	StateFixed         = "fixed"
)

// Reference points at what a finding or alert is based on: a flow, the
// frame that showed it, the observation's protocol and kind.
type Reference struct {
	Flow  string    `json:"flow,omitempty"`
	Frame uint64    `json:"frame,omitempty"`
	Time  time.Time `json:"time"`
	What  string    `json:"what,omitempty"`
}

// Alert is an event in time: a scan, a brute force, a flood, an attack
// on a web interface, contact with a known-bad host, a device acting
// against its own baseline. One incident is one alert, with counts and a
// time span, updated while it lasts (same ID, growing counts) and closed
// when it has been quiet for the rule's window.
type Alert struct {
	V           int        `json:"v"`
	Type        string     `json:"type"`
	ID          string     `json:"id"`
	Rule        string     `json:"rule"`
	Model       string     `json:"model,omitempty"`
	Score       float64    `json:"score,omitempty"`
	Category    string     `json:"category"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Severity    string     `json:"severity"`
	Source      Endpoint   `json:"source"`
	Targets     []Endpoint `json:"targets"`
	TargetCount int        `json:"target_count"`
	Start       time.Time  `json:"start"`
	End         time.Time  `json:"end"`
	Count       uint64     `json:"count"`
	// Counts are what the rule counted ("syn": 1830, "ports": 18,
	// "failed_logins": 23); Samples are bounded example values that carry
	// no patient data or secret ("user": "admin", "ae_title": "PACS1").
	Counts   map[string]uint64 `json:"counts,omitempty"`
	Samples  map[string]string `json:"samples,omitempty"`
	Evidence []Reference       `json:"evidence,omitempty"`
	Tags     []Tag             `json:"tags"`
	// Remediation says what to do.
	Remediation string `json:"remediation,omitempty"`
	// Final is set on the alert's last update, when the incident is over.
	Final bool `json:"final,omitempty"`
}
