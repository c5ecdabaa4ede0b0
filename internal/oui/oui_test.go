package oui

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustMAC(t testing.TB, s string) [6]byte {
	t.Helper()
	m, err := ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The expected names were read from the 2022-08-27 IEEE CSV listings.
func TestEmbeddedLookup(t *testing.T) {
	r, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != embeddedBlocks || r.Len() < 40000 {
		t.Fatalf("embedded registry has %d blocks, header says %d", r.Len(), embeddedBlocks)
	}
	for _, tc := range []struct{ mac, want string }{
		{"00:1c:23:12:34:56", "Dell Inc."},          // MA-L
		{"00:0C:29:aa:bb:cc", "VMware, Inc."},       // MA-L, name quoted in the CSV
		{"00:55:da:e1:23:45", "Victorsure Limited"}, // MA-M 0055DAE
		{"70:b3:d5:f2:ff:01", "TELEPLATFORMS"},      // MA-S 70B3D5F2F
		{"00:50:c2:7d:51:00", "DEUTA-WERKE GmbH"},   // IAB 0050C27D5
		{"00-50-C2-CF-9A-BC", "Elbit Systems of America"},
		{"02:4d:4c:00:00:0a", ""}, // locally administered: no vendor
		{"01:00:5e:00:00:fb", ""}, // IPv4 multicast
		{"ff:ff:ff:ff:ff:ff", ""},
		{"00:00:00:00:00:00", ""},
		{"74:1a:e0:9f:00:00", ""}, // MA-M "Private": hidden owner
		{"00:55:da:f0:00:01", ""}, // MA-M 0055DAF is "Private"; only the RA's parent MA-L block remains
	} {
		got, ok := r.Lookup(mustMAC(t, tc.mac))
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Lookup(%s) = %q, %v; want %q", tc.mac, got, ok, tc.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		mac  string
		want Kind
	}{
		{"00:1c:23:12:34:56", Universal},
		{"02:4d:4c:00:00:0a", Local},
		{"da:a1:19:00:00:01", Local}, // randomised Wi-Fi address
		{"01:00:5e:7f:ff:fa", Multicast},
		{"33:33:00:00:00:01", Multicast},
		{"ff:ff:ff:ff:ff:ff", Broadcast},
		{"00:00:00:00:00:00", Zero},
	} {
		if got := KindOf(mustMAC(t, tc.mac)); got != tc.want {
			t.Errorf("KindOf(%s) = %v, want %v", tc.mac, got, tc.want)
		}
	}
}

func TestParseMACErrors(t *testing.T) {
	for _, s := range []string{"", "00:1c:23:12:34", "00:1c:23:12:34:5g", "00.1c.23.12.34.56", "00:1c:23:12:34:567"} {
		if _, err := ParseMAC(s); err == nil {
			t.Errorf("ParseMAC(%q) accepted", s)
		}
	}
}

const sampleCSV = "Registry,Assignment,Organization Name,Organization Address\n" +
	"MA-L,001C23,Dell Inc.,\"One Dell Way,  MS RR5-45 Round Rock  US 78682 \"\n" +
	"MA-L,0050C2,IEEE Registration Authority,445 Hoes Lane Piscataway NJ US 08554\n" +
	"IAB,0050C27D5,  DEUTA-WERKE\tGmbH ,Paffrather Strasse 140\n" +
	"MA-M,741AE09,Private,\n"

func TestLoadCSV(t *testing.T) {
	r, err := LoadCSV(strings.NewReader(sampleCSV))
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (Private and RA parent blocks dropped)", r.Len())
	}
	if got, _ := r.Lookup(mustMAC(t, "00:50:c2:7d:5f:ff")); got != "DEUTA-WERKE GmbH" {
		t.Errorf("IAB lookup = %q (name must be cleaned)", got)
	}
	if _, ok := r.Lookup(mustMAC(t, "00:50:c2:00:00:01")); ok {
		t.Error("RA parent block named a vendor")
	}
}

func TestLoadCSVErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":      "",
		"not ieee":   "a,b,c\n1,2,3\n",
		"bad hex":    "Registry,Assignment,Organization Name\nMA-L,00ZZ23,X\n",
		"bad length": "Registry,Assignment,Organization Name\nMA-L,00123,X\n",
		"short row":  "Registry,Assignment,Organization Name\nMA-L,001C23\n",
	} {
		if _, err := LoadCSV(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMerge(t *testing.T) {
	older, _ := LoadCSV(strings.NewReader("Registry,Assignment,Organization Name\nMA-L,001C23,Old Name\nMA-L,000C29,VMware\n"))
	newer, _ := LoadCSV(strings.NewReader("Registry,Assignment,Organization Name\nMA-L,001C23,New Name\nMA-S,70B3D5F2F,TELEPLATFORMS\n"))
	m := Merge(newer, older)
	for mac, want := range map[string]string{
		"00:1c:23:00:00:01": "New Name",
		"00:0c:29:00:00:01": "VMware",
		"70:b3:d5:f2:f0:01": "TELEPLATFORMS",
	} {
		if got, _ := m.Lookup(mustMAC(t, mac)); got != want {
			t.Errorf("merged Lookup(%s) = %q, want %q", mac, got, want)
		}
	}
	if Merge(nil, nil).Len() != 0 {
		t.Error("merge of nothing is not empty")
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	r, err := LoadCSV(strings.NewReader(sampleCSV))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteBinary(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadBinary(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != r.Len() {
		t.Fatalf("round trip: %d blocks, want %d", back.Len(), r.Len())
	}
	if got, _ := back.Lookup(mustMAC(t, "00:1c:23:01:02:03")); got != "Dell Inc." {
		t.Errorf("round trip lookup = %q", got)
	}
}

// table builds a raw (ungzipped) table from names and (delta, org) pairs.
func table(names []string, blocks ...uint64) []byte {
	b := []byte(magic)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
	}
	b = binary.AppendUvarint(b, uint64(len(blocks)/2))
	for _, v := range blocks {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

// key001 is the MA-L block 00:00:01.
const key001 = 0x000001000000<<8 | 24

func TestReadBinaryCorrupt(t *testing.T) {
	if _, err := ReadBinary([]byte("not gzip")); err == nil {
		t.Error("accepted non-gzip")
	}
	good := table([]string{"A"}, key001, 0)
	for name, raw := range map[string][]byte{
		"magic":        append([]byte("HEIROUI0"), good[len(magic):]...),
		"truncated":    good[:len(good)-1],
		"name beyond":  append([]byte(magic), 1, 9, 'a', 'b'),
		"org beyond":   table([]string{"A"}, key001, 1),
		"bits":         table([]string{"A"}, key001+1, 0),
		"unaligned":    table([]string{"A"}, key001+1<<8, 0),
		"trailing":     append(table([]string{"A"}, key001, 0), 0),
		"repeated key": table([]string{"A"}, key001, 0, 0, 0),
		"too wide":     table([]string{"A"}, 1<<56|24, 0),
	} {
		if _, err := decode(raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	r, err := decode(good)
	if err != nil || r.Len() != 1 {
		t.Fatalf("minimal table: %v", err)
	}
	if got, _ := r.Lookup([6]byte{0, 0, 1, 2, 3, 4}); got != "A" {
		t.Errorf("minimal table lookup = %q", got)
	}
}

// TestEmbeddedMatchesIEEEData checks that the committed table is what the
// generator makes from the installed listings when they are the same
// release; run `go generate ./internal/oui` when they are newer.
func TestEmbeddedMatchesIEEEData(t *testing.T) {
	const dir = "/usr/share/ieee-data"
	if _, err := os.Stat(filepath.Join(dir, "oui.csv")); err != nil {
		t.Skip("ieee-data not installed")
	}
	emb, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() < emb.Len() {
		t.Fatalf("installed listings have %d blocks, fewer than the embedded %d", r.Len(), emb.Len())
	}
	if r.Len() == emb.Len() {
		for i := range r.keys {
			if r.keys[i] != emb.keys[i] || r.names[r.orgs[i]] != emb.names[emb.orgs[i]] {
				t.Fatalf("block %d differs from the installed listings: regenerate", i)
			}
		}
	} else {
		t.Logf("installed listings are newer (%d blocks, embedded %d): consider go generate", r.Len(), emb.Len())
	}
}

func TestLoadDirMissing(t *testing.T) {
	if _, err := LoadDir(t.TempDir()); err == nil {
		t.Error("empty folder accepted")
	}
}

func FuzzLoadCSV(f *testing.F) {
	f.Add([]byte(sampleCSV))
	f.Add([]byte("Registry,Assignment,Organization Name\nMA-S,70B3D5F2F,\"a\"\"b\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := LoadCSV(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i, k := range r.keys {
			if !validKey(k) || int(r.orgs[i]) >= len(r.names) {
				t.Fatalf("invalid block %x", k)
			}
			if i > 0 && k <= r.keys[i-1] {
				t.Fatal("keys not sorted")
			}
		}
		var buf bytes.Buffer
		if err := r.WriteBinary(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadBinary(buf.Bytes())
		if err != nil || back.Len() != r.Len() {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add(table([]string{"A"}, key001, 0))
	r, _ := LoadCSV(strings.NewReader(sampleCSV))
	var buf bytes.Buffer
	r.WriteBinary(&buf)
	raw, _ := gunzip(buf.Bytes())
	f.Add(raw)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decode(data)
		if err != nil {
			return
		}
		r.Lookup([6]byte{0, 0x1c, 0x23, 1, 2, 3})
	})
}

func TestDefault(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "oui.csv")
	// A "newer" listing renames one block and adds an unknown one.
	if err := os.WriteFile(p, []byte("Registry,Assignment,Organization Name,Organization Address\nMA-L,001C23,Dell Technologies,x\nMA-L,02AAAA,Never,x\nMA-L,FCFCFC,Newcomer Ltd,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p, dir} {
		r, err := Default(path)
		if err != nil {
			t.Fatal(err)
		}
		for mac, want := range map[string]string{
			"00:1c:23:00:00:01": "Dell Technologies",
			"fc:fc:fc:00:00:01": "Newcomer Ltd",
			"00:0c:29:00:00:01": "VMware, Inc.",
			"02:aa:aa:00:00:01": "", // a local address has no vendor, whatever a file says
		} {
			if got, _ := r.Lookup(mustMAC(t, mac)); got != want {
				t.Errorf("%s: Lookup(%s) = %q, want %q", path, mac, got, want)
			}
		}
	}
	if r, err := Default(""); err != nil || r.Len() != embeddedBlocks {
		t.Errorf("Default(\"\") = %d blocks, %v", r.Len(), err)
	}
	if _, err := Default(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing path accepted")
	}
}
