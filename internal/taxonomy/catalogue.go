package taxonomy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/heir-emd/heir/internal/event"
)

// Taxonomy ids, as carried in event.Tag.Taxonomy.
const (
	ENISA     = event.TaxENISA
	OWASP     = event.TaxOWASP
	OWASP2025 = event.TaxOWASP2025
	OWASPIoT  = event.TaxOWASPIoT
	ATTACK    = event.TaxATTACK
)

// Taxonomy describes one catalogue.
type Taxonomy struct {
	// ID is the taxonomy id used in tags ("enisa-etl-2018").
	ID string
	// Name is its published title.
	Name string
	// Source is where the list is published.
	Source string
}

// Entry is one item of a catalogue.
type Entry struct {
	Taxonomy string
	// ID is the item's id within its taxonomy: "11" (ENISA, by rank),
	// "A02" (OWASP), "I7" (OWASP IoT), "T1046" or "T1557.002" (ATT&CK).
	ID   string
	Name string
}

// Catalogue holds every taxonomy heir knows and the detection mapping. It
// is immutable after New and safe for concurrent use.
type Catalogue struct {
	taxonomies []Taxonomy
	entries    map[string]map[string]Entry // taxonomy → id → entry
	order      map[string][]string         // taxonomy → ids in published order
	mappings   map[string]Mapping
	mapOrder   []string
}

// New returns the catalogue with every taxonomy and mapping.
func New() *Catalogue {
	c := &Catalogue{
		entries:  map[string]map[string]Entry{},
		order:    map[string][]string{},
		mappings: map[string]Mapping{},
	}
	c.add(Taxonomy{ENISA, "ENISA Threat Landscape 2018: top 15 cyber threats",
		"https://www.enisa.europa.eu/publications/enisa-threat-landscape-report-2018"}, [][2]string{
		{"1", "Malware"},
		{"2", "Web-based attacks"},
		{"3", "Web application attacks"},
		{"4", "Phishing"},
		{"5", "Denial of service"},
		{"6", "Spam"},
		{"7", "Botnets"},
		{"8", "Data breaches"},
		{"9", "Insider threat"},
		{"10", "Physical manipulation, damage, theft and loss"},
		{"11", "Information leakage"},
		{"12", "Identity theft"},
		{"13", "Cryptojacking"},
		{"14", "Ransomware"},
		{"15", "Cyber espionage"},
	})
	c.add(Taxonomy{OWASP, "OWASP Top 10 (2021)", "https://owasp.org/Top10/2021/"}, [][2]string{
		{"A01", "Broken Access Control"},
		{"A02", "Cryptographic Failures"},
		{"A03", "Injection"},
		{"A04", "Insecure Design"},
		{"A05", "Security Misconfiguration"},
		{"A06", "Vulnerable and Outdated Components"},
		{"A07", "Identification and Authentication Failures"},
		{"A08", "Software and Data Integrity Failures"},
		{"A09", "Security Logging and Monitoring Failures"},
		{"A10", "Server-Side Request Forgery (SSRF)"},
	})
	// The 2025 edition, published by OWASP in late 2025
	// (https://owasp.org/Top10/2025/). The titles were checked against
	// several independent copies of the list; A09 is spelt as in its
	// page's name ("Security Logging and Alerting Failures").
	c.add(Taxonomy{OWASP2025, "OWASP Top 10 (2025)", "https://owasp.org/Top10/2025/"}, [][2]string{
		{"A01", "Broken Access Control"},
		{"A02", "Security Misconfiguration"},
		{"A03", "Software Supply Chain Failures"},
		{"A04", "Cryptographic Failures"},
		{"A05", "Injection"},
		{"A06", "Insecure Design"},
		{"A07", "Authentication Failures"},
		{"A08", "Software or Data Integrity Failures"},
		{"A09", "Security Logging and Alerting Failures"},
		{"A10", "Mishandling of Exceptional Conditions"},
	})
	c.add(Taxonomy{OWASPIoT, "OWASP Internet of Things Top 10 (2018)",
		"https://owasp.org/www-project-internet-of-things/"}, [][2]string{
		{"I1", "Weak, Guessable, or Hardcoded Passwords"},
		{"I2", "Insecure Network Services"},
		{"I3", "Insecure Ecosystem Interfaces"},
		{"I4", "Lack of Secure Update Mechanism"},
		{"I5", "Use of Insecure or Outdated Components"},
		{"I6", "Insufficient Privacy Protection"},
		{"I7", "Insecure Data Transfer and Storage"},
		{"I8", "Lack of Device Management"},
		{"I9", "Insecure Default Settings"},
		{"I10", "Lack of Physical Hardening"},
	})
	// Only the techniques heir tags (Enterprise T1xxx, ICS T0xxx), with
	// their names in ATT&CK v15-v17.
	c.add(Taxonomy{ATTACK, "MITRE ATT&CK (Enterprise and ICS techniques)", "https://attack.mitre.org/"}, [][2]string{
		{"T1005", "Data from Local System"},
		{"T1018", "Remote System Discovery"},
		{"T1021", "Remote Services"},
		{"T1030", "Data Transfer Size Limits"},
		{"T1040", "Network Sniffing"},
		{"T1046", "Network Service Discovery"},
		{"T1071", "Application Layer Protocol"},
		{"T1071.001", "Application Layer Protocol: Web Protocols"},
		{"T1071.004", "Application Layer Protocol: DNS"},
		{"T1078", "Valid Accounts"},
		{"T1078.001", "Valid Accounts: Default Accounts"},
		{"T1110", "Brute Force"},
		{"T1110.001", "Brute Force: Password Guessing"},
		{"T1110.003", "Brute Force: Password Spraying"},
		{"T1119", "Automated Collection"},
		{"T1190", "Exploit Public-Facing Application"},
		{"T1200", "Hardware Additions"},
		{"T1210", "Exploitation of Remote Services"},
		{"T1213", "Data from Information Repositories"},
		{"T1496", "Resource Hijacking"},
		{"T1498", "Network Denial of Service"},
		{"T1498.001", "Network Denial of Service: Direct Network Flood"},
		{"T1499", "Endpoint Denial of Service"},
		{"T1499.002", "Endpoint Denial of Service: Service Exhaustion Flood"},
		{"T1499.003", "Endpoint Denial of Service: Application Exhaustion Flood"},
		{"T1499.004", "Endpoint Denial of Service: Application or System Exploitation"},
		{"T1557", "Adversary-in-the-Middle"},
		{"T1557.002", "Adversary-in-the-Middle: ARP Cache Poisoning"},
		{"T1573", "Encrypted Channel"},
		{"T1595", "Active Scanning"},
		{"T1595.001", "Active Scanning: Scanning IP Blocks"},
		{"T1595.002", "Active Scanning: Vulnerability Scanning"},
		{"T0811", "Data from Information Repositories"},
		{"T0812", "Default Credentials"},
		{"T0814", "Denial of Service"},
		{"T0819", "Exploit Public-Facing Application"},
		{"T0830", "Adversary-in-the-Middle"},
		{"T0842", "Network Sniffing"},
		{"T0846", "Remote System Discovery"},
		{"T0855", "Unauthorized Command Message"},
		{"T0859", "Valid Accounts"},
		{"T0866", "Exploitation of Remote Services"},
		{"T0886", "Remote Services"},
		{"T0888", "Remote System Information Discovery"},
	})
	c.addMappings()
	return c
}

func (c *Catalogue) add(t Taxonomy, items [][2]string) {
	c.taxonomies = append(c.taxonomies, t)
	m := make(map[string]Entry, len(items))
	ids := make([]string, 0, len(items))
	for _, it := range items {
		m[it[0]] = Entry{Taxonomy: t.ID, ID: it[0], Name: it[1]}
		ids = append(ids, it[0])
	}
	c.entries[t.ID] = m
	c.order[t.ID] = ids
}

// Taxonomies returns the catalogues in a fixed order.
func (c *Catalogue) Taxonomies() []Taxonomy { return slices.Clone(c.taxonomies) }

// Taxonomy returns the description of the taxonomy id.
func (c *Catalogue) Taxonomy(id string) (Taxonomy, bool) {
	for _, t := range c.taxonomies {
		if t.ID == id {
			return t, true
		}
	}
	return Taxonomy{}, false
}

// Entries returns the items of a taxonomy in published order.
func (c *Catalogue) Entries(taxonomy string) []Entry {
	out := make([]Entry, 0, len(c.order[taxonomy]))
	for _, id := range c.order[taxonomy] {
		out = append(out, c.entries[taxonomy][id])
	}
	return out
}

// Lookup returns the entry taxonomy/id. ATT&CK ids are matched without
// regard to case ("t1046" finds T1046).
func (c *Catalogue) Lookup(taxonomy, id string) (Entry, bool) {
	m, ok := c.entries[taxonomy]
	if !ok {
		return Entry{}, false
	}
	if e, ok := m[id]; ok {
		return e, true
	}
	e, ok := m[strings.ToUpper(id)]
	return e, ok
}

// Tag returns the tag for taxonomy/id with the catalogue's name and the
// given reason, or an error naming what is unknown.
func (c *Catalogue) Tag(taxonomy, id, reason string) (event.Tag, error) {
	if _, ok := c.entries[taxonomy]; !ok {
		names := make([]string, len(c.taxonomies))
		for i, t := range c.taxonomies {
			names[i] = t.ID
		}
		return event.Tag{}, fmt.Errorf("unknown taxonomy %q (known: %s)", taxonomy, strings.Join(names, ", "))
	}
	e, ok := c.Lookup(taxonomy, id)
	if !ok {
		return event.Tag{}, fmt.Errorf("%s has no entry %q (known: %s)", taxonomy, id, strings.Join(c.order[taxonomy], ", "))
	}
	return event.Tag{Taxonomy: taxonomy, ID: e.ID, Name: e.Name, Reason: reason}, nil
}
