package taxonomy

import (
	"fmt"
	"slices"

	"github.com/heir-emd/heir/internal/event"
)

// Mapping places one class of detection in the taxonomies, with the reason
// for each tag. Rules name a class (`mapping:` in the rule file) to take
// its tags, so that the mapping lives in one place.
type Mapping struct {
	// Class is the detection class ("port-scan", "cleartext-phi").
	Class string
	// Title says what the class covers.
	Title string
	// Tags are in taxonomy order: ENISA, OWASP 2021, OWASP 2025, OWASP
	// IoT, ATT&CK.
	Tags []event.Tag
	// NoOWASP says why no OWASP Top 10 category applies, for classes that
	// have none (network floods, reconnaissance): the OWASP lists describe
	// weaknesses of applications, not every network attack.
	NoOWASP string
}

// Mapping returns the mapping of a detection class.
func (c *Catalogue) Mapping(class string) (Mapping, bool) {
	m, ok := c.mappings[class]
	if !ok {
		return Mapping{}, false
	}
	m.Tags = slices.Clone(m.Tags)
	return m, true
}

// Mappings returns every mapping in a fixed order.
func (c *Catalogue) Mappings() []Mapping {
	out := make([]Mapping, 0, len(c.mapOrder))
	for _, k := range c.mapOrder {
		m, _ := c.Mapping(k)
		out = append(out, m)
	}
	return out
}

// t is one tag of a mapping in the table below: taxonomy, id, reason.
type t [3]string

// addMappings holds the mapping table. It starts from the table in the
// design notes (TAXONOMY.md) and corrects it where the catalogues say
// otherwise; the corrections are listed in docs/taxonomy.md.
func (c *Catalogue) addMappings() {
	add := func(class, title, noOWASP string, tags ...t) {
		m := Mapping{Class: class, Title: title, NoOWASP: noOWASP}
		for _, x := range tags {
			tag, err := c.Tag(x[0], x[1], x[2])
			if err != nil {
				// The table is code: a typo is a programming error that
				// the package tests catch before any release.
				panic(fmt.Sprintf("taxonomy mapping %s: %v", class, err))
			}
			m.Tags = append(m.Tags, tag)
		}
		c.mappings[class] = m
		c.mapOrder = append(c.mapOrder, class)
	}

	// --- standing weaknesses (findings) ---
	add("cleartext-phi", "Patient data (HL7 PID, DICOM patient module, FHIR Patient, MQTT payload keys) in cleartext", "",
		t{ENISA, "11", "patient data is readable by anyone on the network path"},
		t{ENISA, "8", "a capture of the traffic is a breach of patient records"},
		t{OWASP, "A02", "sensitive data transmitted in clear text (CWE-319)"},
		t{OWASP2025, "A04", "sensitive data transmitted in clear text (CWE-319)"},
		t{OWASPIoT, "I7", "data in transit is not encrypted"},
		t{OWASPIoT, "I6", "personal information is exposed without protection"},
		t{ATTACK, "T1040", "passive sniffing is enough to collect the data"},
		t{ATTACK, "T0842", "passive sniffing of a clinical (ICS-like) network"},
	)
	add("default-credentials", "A known default or vendor credential accepted by a device", "",
		t{ENISA, "12", "anyone who knows the published default can log in as the device's user"},
		t{OWASP, "A07", "permits default, weak or well-known passwords"},
		t{OWASP, "A05", "default accounts and their passwords are still enabled and unchanged"},
		t{OWASP2025, "A07", "permits default, weak or well-known passwords"},
		t{OWASP2025, "A02", "default accounts left enabled and unchanged"},
		t{OWASPIoT, "I1", "publicly available default credential"},
		t{OWASPIoT, "I9", "the device still runs with its factory setting"},
		t{ATTACK, "T1078.001", "default accounts give valid access"},
		t{ATTACK, "T0812", "default credentials on a clinical device"},
	)
	add("cleartext-credentials", "A user name and password (or token) sent unencrypted", "",
		t{ENISA, "11", "credentials are readable on the network path"},
		t{ENISA, "12", "captured credentials let an attacker log in as the user"},
		t{OWASP, "A02", "credentials transmitted in clear text (CWE-319)"},
		t{OWASP, "A07", "credentials exposed in transit"},
		t{OWASP2025, "A04", "credentials transmitted in clear text (CWE-319)"},
		t{OWASP2025, "A07", "credentials exposed in transit"},
		t{OWASPIoT, "I7", "data in transit is not encrypted"},
		t{OWASPIoT, "I2", "the login service does not protect its credentials"},
		t{ATTACK, "T1040", "passive sniffing captures the credentials"},
	)
	add("cleartext-login", "A login service without encryption (Telnet, FTP, HTTP authentication without TLS)", "",
		t{ENISA, "11", "every login through the service exposes its credentials"},
		t{OWASP, "A02", "authentication over a cleartext protocol"},
		t{OWASP, "A07", "authentication can be observed and replayed"},
		t{OWASP2025, "A04", "authentication over a cleartext protocol"},
		t{OWASP2025, "A07", "authentication can be observed and replayed"},
		t{OWASPIoT, "I2", "an insecure network service is exposed"},
		t{OWASPIoT, "I7", "data in transit is not encrypted"},
		t{ATTACK, "T1040", "passive sniffing captures the logins"},
	)
	add("weak-tls", "TLS below 1.2, SSL, export/RC4/NULL/DES ciphers, SHA-1, MD5, short-key, self-signed or expired certificates", "",
		t{ENISA, "11", "the encryption can be broken or the server impersonated"},
		t{OWASP, "A02", "old or weak cryptographic algorithms or protocols"},
		t{OWASP2025, "A04", "old or weak cryptographic algorithms or protocols"},
		t{OWASPIoT, "I5", "outdated protocol or cryptographic components"},
		t{OWASPIoT, "I7", "data in transit is weakly protected"},
		t{ATTACK, "T1557", "weak TLS makes interception and impersonation practical"},
	)
	add("smbv1", "SMB version 1 offered or negotiated", "",
		t{ENISA, "1", "SMBv1 is the path of wormable malware (EternalBlue, WannaCry)"},
		t{ENISA, "14", "ransomware spreads through SMBv1 in hospitals"},
		t{OWASP, "A06", "obsolete, unsupported protocol version"},
		t{OWASP2025, "A03", "obsolete, unsupported component (the 2025 list folds outdated components into A03)"},
		t{OWASPIoT, "I5", "use of an outdated component"},
		t{OWASPIoT, "I4", "a device still on SMBv1 is not being updated"},
		t{ATTACK, "T1210", "SMBv1 flaws allow remote exploitation"},
		t{ATTACK, "T0866", "remote exploitation of a clinical device"},
	)
	add("unauthenticated-access", "A service that accepts sessions without any credential", "",
		t{ENISA, "8", "anyone on the network can read what the service holds"},
		t{OWASP, "A07", "missing authentication for a critical function (CWE-306)"},
		t{OWASP, "A01", "access is not restricted to authorised users"},
		t{OWASP2025, "A07", "missing authentication for a critical function (CWE-306)"},
		t{OWASP2025, "A01", "access is not restricted to authorised users"},
		t{OWASPIoT, "I2", "an insecure network service is exposed"},
		t{OWASPIoT, "I9", "authentication disabled by default"},
		t{ATTACK, "T0855", "unauthenticated command messages can reach devices"},
	)
	add("blocklisted-certificate", "A device presents a TLS certificate listed as malicious by an imported indicator list", "a listed certificate is evidence of compromise, not an application weakness",
		t{ENISA, "1", "the certificate is known from malware infrastructure"},
		t{ENISA, "7", "such certificates mark botnet command and control servers"},
		t{ATTACK, "T1573", "an encrypted channel with a known-bad certificate"},
	)

	// --- events (alerts) ---
	add("port-scan", "TCP (SYN, connect, FIN, NULL, Xmas) or UDP port scan", "reconnaissance is not an application weakness; OWASP A09 would apply only to a failure to notice it, which this alert is not",
		t{ENISA, "15", "mapping services is the first step of targeted intrusion"},
		t{OWASPIoT, "I2", "the scan enumerates the network services devices expose"},
		t{ATTACK, "T1046", "network service discovery"},
		t{ATTACK, "T1595.001", "scanning address blocks"},
		t{ATTACK, "T0846", "remote system discovery on a clinical network"},
	)
	add("host-sweep", "Ping or ARP sweep: probing many addresses for live hosts", "reconnaissance is not an application weakness",
		t{ENISA, "15", "finding live hosts is the first step of targeted intrusion"},
		t{ATTACK, "T1018", "remote system discovery"},
		t{ATTACK, "T0846", "remote system discovery on a clinical network"},
	)
	add("service-discovery", "DICOM or HL7 service discovery, C-ECHO sweeps, service version probing", "reconnaissance is not an application weakness",
		t{ENISA, "15", "enumerating clinical services precedes data theft or sabotage"},
		t{OWASPIoT, "I2", "clinical network services answer anyone who asks"},
		t{ATTACK, "T1046", "network service discovery"},
		t{ATTACK, "T0846", "remote system discovery on a clinical network"},
		t{ATTACK, "T0888", "remote system information discovery (versions, AE titles)"},
	)
	add("brute-force", "Password or DICOM AE title guessing against one service", "",
		t{ENISA, "12", "guessing credentials to take over an account"},
		t{OWASP, "A07", "permits brute force or other automated attacks"},
		t{OWASP2025, "A07", "permits brute force or other automated attacks"},
		t{OWASPIoT, "I1", "guessable credentials are being tried"},
		t{ATTACK, "T1110.001", "password guessing"},
		t{ATTACK, "T0859", "valid accounts sought on a clinical device"},
	)
	add("password-spraying", "Few passwords tried against many accounts or many devices", "",
		t{ENISA, "12", "guessing credentials to take over accounts"},
		t{OWASP, "A07", "permits credential stuffing and automated attacks"},
		t{OWASP2025, "A07", "permits credential stuffing and automated attacks"},
		t{OWASPIoT, "I1", "guessable credentials are being tried"},
		t{ATTACK, "T1110.003", "password spraying"},
	)
	add("network-flood", "SYN, UDP or ICMP flood against one host", "a network flood attacks capacity, not an application weakness",
		t{ENISA, "5", "denial of service against a device"},
		t{ENISA, "7", "floods are typically sent by botnets"},
		t{OWASPIoT, "I2", "the device's network services can be overwhelmed"},
		t{ATTACK, "T1498.001", "direct network flood"},
		t{ATTACK, "T0814", "denial of service of a clinical device"},
	)
	add("service-flood", "Application-level flood: DICOM association storm, MQTT publish flood, slow HTTP", "a flood attacks capacity; the OWASP lists name application weaknesses, and the design notes' table maps floods to none",
		t{ENISA, "5", "denial of service against a clinical service"},
		t{ENISA, "7", "floods are typically sent by botnets"},
		t{OWASPIoT, "I2", "the device's network service can be exhausted"},
		t{ATTACK, "T1499.002", "service exhaustion flood"},
		t{ATTACK, "T1499.003", "application exhaustion flood"},
		t{ATTACK, "T0814", "denial of service of a clinical device"},
	)
	add("web-injection", "SQL injection, command injection or JNDI (log4j-style) lookup sent to a web interface", "",
		t{ENISA, "3", "an attack on a web application"},
		t{OWASP, "A03", "injection"},
		t{OWASP2025, "A05", "injection"},
		t{OWASPIoT, "I3", "a device web interface or API is attacked"},
		t{ATTACK, "T1190", "exploit public-facing application"},
		t{ATTACK, "T0819", "exploit a clinical device's public-facing application"},
	)
	add("web-xss", "Cross-site scripting payload sent to a web interface", "",
		t{ENISA, "3", "an attack on a web application"},
		t{ENISA, "2", "script injected to run in other users' browsers"},
		t{OWASP, "A03", "injection (cross-site scripting is listed under A03 in 2021)"},
		t{OWASP2025, "A05", "injection"},
		t{OWASPIoT, "I3", "a device web interface is attacked"},
		t{ATTACK, "T1190", "exploit public-facing application"},
	)
	add("web-traversal", "Path traversal sent to a web interface", "",
		t{ENISA, "3", "an attack on a web application"},
		t{OWASP, "A01", "path traversal (CWE-22) is listed under broken access control"},
		t{OWASP2025, "A01", "path traversal (CWE-22) is listed under broken access control"},
		t{OWASPIoT, "I3", "a device web interface is attacked"},
		t{ATTACK, "T1190", "exploit public-facing application"},
	)
	add("known-bad-peer", "Contact with a host, domain or certificate on an imported indicator list", "contact with a known-bad host is an event, not an application weakness",
		t{ENISA, "1", "the peer is known from malware infrastructure"},
		t{ENISA, "7", "indicator lists mostly name botnet command and control"},
		t{ATTACK, "T1071", "command and control over an application layer protocol"},
	)
	add("dicom-exfiltration", "Bulk DICOM C-FIND/C-GET/C-MOVE by a peer the archive has not served before", "",
		t{ENISA, "8", "patient images and records copied out of the archive"},
		t{ENISA, "15", "harvesting a hospital's imaging archive"},
		t{OWASP, "A01", "the archive serves patient data to an unexpected peer"},
		t{OWASP2025, "A01", "the archive serves patient data to an unexpected peer"},
		t{OWASPIoT, "I3", "the archive's query/retrieve interface is abused"},
		t{ATTACK, "T1213", "data from information repositories (the PACS)"},
		t{ATTACK, "T1119", "automated collection of records"},
		t{ATTACK, "T0811", "data from information repositories on a clinical network"},
	)
	add("arp-spoofing", "An IP address claimed by a new MAC while its holder still answers; gratuitous ARP storms", "link-layer spoofing is not an application weakness",
		t{ENISA, "11", "traffic redirected through the attacker can be read"},
		t{ENISA, "12", "the attacker impersonates another device's address"},
		t{ATTACK, "T1557.002", "ARP cache poisoning"},
		t{ATTACK, "T0830", "adversary-in-the-middle on a clinical network"},
	)
	// Behaviour baselines (internal/baseline) and flow classifiers
	// (internal/mlsense) raise these when a deviation or a prediction has
	// no closer cause among the classes above.
	add("new-device", "A device first seen after the network's learning period (behaviour baseline)", "an unknown device is a gap in the inventory, not an application weakness",
		t{ENISA, "10", "a device was connected to the clinical network"},
		t{ENISA, "9", "someone with access to the premises connected it"},
		t{OWASPIoT, "I8", "the device is outside the managed inventory"},
		t{ATTACK, "T1200", "hardware additions"},
	)
	add("behaviour-change", "A device talks to peers, uses services or exchanges messages it never did in its baseline, or contacts a service far more often", "a change of behaviour is an event; the weakness behind it, if any, is not known",
		t{ENISA, "15", "new peers and services are how an intruder explores and moves through a network"},
		t{ENISA, "1", "malware spreading inside the network makes devices use peers and services they never used"},
		t{OWASPIoT, "I2", "the device uses or exposes network services outside its role"},
		t{ATTACK, "T1021", "lateral movement over remote services looks like new peers and services"},
		t{ATTACK, "T0886", "remote services used on a clinical network"},
	)
	add("traffic-anomaly", "A device sends, receives or opens far more than in its baseline (flow sizes, volumes, bursts)", "an unusual volume is an event, not an application weakness",
		t{ENISA, "8", "far more data than usual leaving a device may be data theft"},
		t{ENISA, "5", "far more connections or traffic than usual may be a flood"},
		t{ATTACK, "T1499", "a burst of connections or traffic can exhaust a device"},
		t{ATTACK, "T0814", "denial of service of a clinical device"},
	)
	add("address-change", "A device's address seen with a new hardware (MAC) address", "link-layer spoofing is not an application weakness",
		t{ENISA, "12", "another machine may claim the device's address"},
		t{ENISA, "11", "traffic meant for the device may be redirected and read"},
		t{ATTACK, "T1557", "adversary-in-the-middle by taking over an address"},
		t{ATTACK, "T0830", "adversary-in-the-middle on a clinical network"},
	)
	add("malformed-input", "Malformed protocol messages sent to a service (fuzzing, crash attempts)", "malformed messages are an attack on a service's robustness; the OWASP lists name the weakness only once it is found",
		t{ENISA, "5", "malformed messages aim to crash the service"},
		t{OWASPIoT, "I2", "the device's network service is fed input it may not survive"},
		t{ATTACK, "T1499.004", "denial of service by exploiting the application"},
		t{ATTACK, "T0814", "denial of service of a clinical device"},
	)
	add("attack-flow", "A flow a trained classifier takes for an attack without naming its kind", "a classifier's verdict names no weakness",
		t{ENISA, "5", "most attacks the shipped training data holds (CICIoMT2024) are floods"},
		t{ENISA, "15", "the rest are reconnaissance: scans and sweeps"},
	)
}
