package rama

import "math/bits"

// enisaNames are the ENISA Threat Landscape 2018 top 15 threats, in
// ENISA's order: threat n is enisaNames[n-1].
var enisaNames = [...]string{
	"Malware",
	"Web-based attacks",
	"Web application attacks",
	"Phishing",
	"Denial of service",
	"Spam",
	"Botnets",
	"Data breaches",
	"Insider threat",
	"Physical manipulation, damage, theft and loss",
	"Information leakage",
	"Identity theft",
	"Cryptojacking",
	"Ransomware",
	"Cyber espionage",
}

// NumENISA is the number of ENISA threats; index 0 of per-threat arrays
// holds points of inputs with no ENISA category ("unclassified").
const NumENISA = len(enisaNames)

// ENISAName returns the name of ENISA ETL 2018 threat id (1–15), or
// "unclassified" for 0.
func ENISAName(id int) string {
	if id >= 1 && id <= NumENISA {
		return enisaNames[id-1]
	}
	return "unclassified"
}

// enisaMask is a set of ENISA threat ids as bits 1–15; bit 0 stands for
// unclassified.
type enisaMask uint16

func maskOf(ids []int) enisaMask {
	var m enisaMask
	for _, id := range ids {
		if id >= 1 && id <= NumENISA {
			m |= 1 << id
		}
	}
	return m
}

func (m enisaMask) ids() []int {
	var out []int
	for id := 1; id <= NumENISA; id++ {
		if m&(1<<id) != 0 {
			out = append(out, id)
		}
	}
	return out
}

func (m enisaMask) count() int { return bits.OnesCount16(uint16(m) &^ 1) }
