package ml

import (
	"strings"
	"testing"
)

// The 21 capture names in the CICIoMT2024 sample (attack_type) and what
// the dataset paper makes of them, written out by hand.
var sampleFiles = []struct{ file, class, category string }{
	{"ARP_Spoofing", "ARP_Spoofing", "Spoofing"},
	{"Benign", "Benign", "Benign"},
	{"MQTT-DDoS-Connect_Flood", "MQTT-DDoS-Connect_Flood", "MQTT"},
	{"MQTT-DDoS-Publish_Flood", "MQTT-DDoS-Publish_Flood", "MQTT"},
	{"MQTT-DoS-Connect_Flood", "MQTT-DoS-Connect_Flood", "MQTT"},
	{"MQTT-DoS-Publish_Flood", "MQTT-DoS-Publish_Flood", "MQTT"},
	{"MQTT-Malformed_Data", "MQTT-Malformed_Data", "MQTT"},
	{"Recon-OS_Scan", "Recon-OS_Scan", "Recon"},
	{"Recon-Ping_Sweep", "Recon-Ping_Sweep", "Recon"},
	{"Recon-Port_Scan", "Recon-Port_Scan", "Recon"},
	{"Recon-VulScan", "Recon-VulScan", "Recon"},
	{"TCP_IP-DDoS-ICMP1", "DDoS-ICMP", "DDoS"},
	{"TCP_IP-DDoS-ICMP2", "DDoS-ICMP", "DDoS"},
	{"TCP_IP-DDoS-SYN", "DDoS-SYN", "DDoS"},
	{"TCP_IP-DDoS-TCP", "DDoS-TCP", "DDoS"},
	{"TCP_IP-DDoS-UDP1", "DDoS-UDP", "DDoS"},
	{"TCP_IP-DDoS-UDP2", "DDoS-UDP", "DDoS"},
	{"TCP_IP-DoS-ICMP", "DoS-ICMP", "DoS"},
	{"TCP_IP-DoS-SYN", "DoS-SYN", "DoS"},
	{"TCP_IP-DoS-TCP", "DoS-TCP", "DoS"},
	{"TCP_IP-DoS-UDP", "DoS-UDP", "DoS"},
}

func TestCICIoMT2024Taxonomy(t *testing.T) {
	classes, cats := map[string]bool{}, map[string]bool{}
	for _, f := range sampleFiles {
		for _, name := range []string{
			"WiFi_and_MQTT_test_" + f.file + "_test.pcap", // the sample's form
			"WiFi_and_MQTT/test/" + f.file + "_test.pcap.csv",
			f.file + "_train.pcap.csv",
		} {
			l, err := CICIoMT2024Label(name)
			if err != nil {
				t.Fatal(err)
			}
			wantBin := "Attack"
			if f.class == "Benign" {
				wantBin = "Benign"
			}
			if l.Class != f.class || l.Category != f.category || l.Binary != wantBin {
				t.Errorf("%s: %+v, want %s/%s/%s", name, l, f.class, f.category, wantBin)
			}
		}
		classes[f.class], cats[f.category] = true, true
	}
	if len(classes) != 19 || len(cats) != 6 {
		t.Errorf("%d classes, %d categories; want 19 and 6", len(classes), len(cats))
	}
	// Training captures numbered beyond the sample's (ICMP3 … ICMP8).
	if l, err := CICIoMT2024Label("TCP_IP-DDoS-ICMP8_train.pcap.csv"); err != nil || l.Class != "DDoS-ICMP" {
		t.Errorf("ICMP8: %+v %v", l, err)
	}
	if _, err := CICIoMT2024Label("Bluetooth_DoS_test.pcap"); err == nil || !strings.Contains(err.Error(), `unknown capture "Bluetooth_DoS"`) {
		t.Errorf("unknown capture: %v", err)
	}
	for _, s := range []string{"19", "class", "6", "category", "2", "binary"} {
		if _, err := ParseGranularity(s); err != nil {
			t.Error(err)
		}
	}
}
