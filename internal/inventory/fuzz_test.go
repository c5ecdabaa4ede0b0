package inventory

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
	"github.com/heir-emd/heir/internal/vuln"
)

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte(inv))
	f.Add([]byte("mac;software\n00:11:22:33:44:55;a 1; b 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadCSV("fuzz.csv", bytes.NewReader(data))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, d := range r.Devices {
			if d.ID == "" || seen[d.ID] {
				t.Fatalf("device id %q empty or twice", d.ID)
			}
			seen[d.ID] = true
		}
	})
}

// FuzzReadBOM covers SBOM and VEX reading (JSON and XML).
func FuzzReadBOM(f *testing.F) {
	f.Add([]byte(xmlBOM))
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","vulnerabilities":[{"id":"CVE-1","analysis":{"state":"not_affected"},"affects":[{"ref":"pkg:npm/a@1","versions":[{"range":"vers:npm/<2"}]}]}]}`))
	if dir, ok := testenv.OptionalDataDir(); ok {
		if data, err := os.ReadFile(filepath.Join(dir, "sbom", "narrow.sbom.json")); err == nil {
			f.Add(data)
		}
	}
	norm := vuln.DefaultNormaliser()
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := ReadSBOM("fuzz", data, "v", "m", norm); err == nil {
			for _, c := range r.SBOM.Components {
				if c.Name == "" && c.CPE == "" && c.PURL == "" {
					t.Fatal("empty component kept")
				}
			}
		}
		if r, err := ReadVEX("fuzz", data, "v", "m", vuln.SBOM{}, norm); err == nil {
			for _, a := range r.Statements {
				if a.CVE == "" || a.Status == "" {
					t.Fatalf("incomplete statement %+v", a)
				}
			}
		}
	})
}
