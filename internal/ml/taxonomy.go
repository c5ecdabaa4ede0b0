package ml

import (
	"fmt"
	"strings"
)

// Granularity is the level of a label taxonomy a model is trained at.
type Granularity string

// The three levels of the CICIoMT2024 taxonomy.
const (
	Class    Granularity = "class"    // 19 classes: 18 attacks and benign
	Category Granularity = "category" // 6 categories
	Binary   Granularity = "binary"   // benign or attack
)

// Granularities lists the levels from finest to coarsest.
var Granularities = []Granularity{Class, Category, Binary}

// ParseGranularity accepts the level names and their class counts
// ("19", "6", "2").
func ParseGranularity(s string) (Granularity, error) {
	switch strings.ToLower(s) {
	case "class", "classes", "19":
		return Class, nil
	case "category", "categories", "6":
		return Category, nil
	case "binary", "2":
		return Binary, nil
	}
	return "", fmt.Errorf("unknown granularity %q (want class, category or binary)", s)
}

// Label is one taxonomy entry: what a capture's rows are at each level.
type Label struct {
	Class, Category, Binary string
}

// At returns the label at granularity g.
func (l Label) At(g Granularity) string {
	switch g {
	case Category:
		return l.Category
	case Binary:
		return l.Binary
	}
	return l.Class
}

// ciciomtStems maps the stem of a CICIoMT2024 WiFi/MQTT capture file (the
// file name without split, numbering and extension) to its label. The 19
// classes and 6 categories are those of the dataset paper (Dadkhah et al.,
// "CICIoMT2024", Internet of Things 2024): captures of one attack recorded
// in several files (TCP_IP-DDoS-ICMP1, -ICMP2 …) are one class; every MQTT
// attack, DoS or DDoS, belongs to the MQTT category. docs/ml.md has the
// table.
var ciciomtStems = map[string]Label{
	"Benign":                  {"Benign", "Benign", "Benign"},
	"ARP_Spoofing":            {"ARP_Spoofing", "Spoofing", "Attack"},
	"Recon-Ping_Sweep":        {"Recon-Ping_Sweep", "Recon", "Attack"},
	"Recon-VulScan":           {"Recon-VulScan", "Recon", "Attack"},
	"Recon-OS_Scan":           {"Recon-OS_Scan", "Recon", "Attack"},
	"Recon-Port_Scan":         {"Recon-Port_Scan", "Recon", "Attack"},
	"MQTT-DDoS-Connect_Flood": {"MQTT-DDoS-Connect_Flood", "MQTT", "Attack"},
	"MQTT-DDoS-Publish_Flood": {"MQTT-DDoS-Publish_Flood", "MQTT", "Attack"},
	"MQTT-DoS-Connect_Flood":  {"MQTT-DoS-Connect_Flood", "MQTT", "Attack"},
	"MQTT-DoS-Publish_Flood":  {"MQTT-DoS-Publish_Flood", "MQTT", "Attack"},
	"MQTT-Malformed_Data":     {"MQTT-Malformed_Data", "MQTT", "Attack"},
	"TCP_IP-DDoS-ICMP":        {"DDoS-ICMP", "DDoS", "Attack"},
	"TCP_IP-DDoS-SYN":         {"DDoS-SYN", "DDoS", "Attack"},
	"TCP_IP-DDoS-TCP":         {"DDoS-TCP", "DDoS", "Attack"},
	"TCP_IP-DDoS-UDP":         {"DDoS-UDP", "DDoS", "Attack"},
	"TCP_IP-DoS-ICMP":         {"DoS-ICMP", "DoS", "Attack"},
	"TCP_IP-DoS-SYN":          {"DoS-SYN", "DoS", "Attack"},
	"TCP_IP-DoS-TCP":          {"DoS-TCP", "DoS", "Attack"},
	"TCP_IP-DoS-UDP":          {"DoS-UDP", "DoS", "Attack"},
}

// CICIoMT2024Stems returns the taxonomy table keyed by capture stem, for
// documentation and tests.
func CICIoMT2024Stems() map[string]Label {
	out := make(map[string]Label, len(ciciomtStems))
	for k, v := range ciciomtStems {
		out[k] = v
	}
	return out
}

// CICIoMT2024Label maps a CICIoMT2024 row label — the source capture's
// file name as the published CSVs and samples carry it, e.g.
// "WiFi_and_MQTT_test_TCP_IP-DDoS-ICMP2_test.pcap" or
// "TCP_IP-DoS-SYN3_train.pcap.csv" — to its class, category and binary
// label. Unknown names are an error naming the stem, so that a new capture
// is never silently mislabelled.
func CICIoMT2024Label(name string) (Label, error) {
	stem := CICIoMT2024Stem(name)
	if l, ok := ciciomtStems[stem]; ok {
		return l, nil
	}
	return Label{}, fmt.Errorf("CICIoMT2024 label %q: unknown capture %q", name, stem)
}

// CICIoMT2024Stem strips the directory prefix, split, capture number and
// extensions from a CICIoMT2024 file name.
func CICIoMT2024Stem(name string) string {
	s := name
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	for _, p := range []string{"WiFi_and_MQTT_test_", "WiFi_and_MQTT_train_", "WiFi_and_MQTT_"} {
		s = strings.TrimPrefix(s, p)
	}
	for _, suf := range []string{".csv", ".pcap", "_test", "_train"} {
		s = strings.TrimSuffix(s, suf)
	}
	// Attacks captured over several files carry a number: ICMP1, UDP2 …
	if strings.HasPrefix(s, "TCP_IP-") {
		s = strings.TrimRight(s, "0123456789")
	}
	return s
}
