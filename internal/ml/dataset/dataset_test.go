package dataset

import (
	"bytes"
	"compress/gzip"
	"math"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
)

const small = "a,b,IAT,c,label\n" +
	"1,2.5,9,inf,x\n" +
	"-3,,9,4,y\n" +
	"0,1e3,9,-inf,x\n"

func TestRead(t *testing.T) {
	d, err := Read(strings.NewReader(small), Spec{Label: "label", Drop: []string{"IAT"}, AllowMissing: true, Missing: 7})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Features, ",") != "a,b,c" || d.N != 3 || d.D != 3 {
		t.Fatalf("features %v, %d×%d", d.Features, d.N, d.D)
	}
	want := []float32{1, 2.5, float32(math.Inf(1)), -3, 7, 4, 0, 1000, float32(math.Inf(-1))}
	for i, w := range want {
		if d.X[i] != w {
			t.Errorf("value %d = %v, want %v", i, d.X[i], w)
		}
	}
	if strings.Join(d.Labels, ",") != "x,y,x" || d.PosInf != 1 || d.NegInf != 1 || d.Missing != 1 {
		t.Errorf("labels %v, +inf %d, -inf %d, missing %d", d.Labels, d.PosInf, d.NegInf, d.Missing)
	}
	// explicit feature order
	d, err = Read(strings.NewReader(small), Spec{Label: "label", Features: []string{"c", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Features[0] != "c" || d.Row(1)[0] != 4 || d.Row(1)[1] != -3 {
		t.Errorf("selected features: %v %v", d.Features, d.X)
	}
}

func TestReadGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(small))
	zw.Close()
	d, err := Read(&buf, Spec{Label: "label", AllowMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 3 || d.D != 4 {
		t.Errorf("%d×%d", d.N, d.D)
	}
}

func TestReadErrors(t *testing.T) {
	cases := []struct {
		in   string
		spec Spec
		want string
	}{
		{small, Spec{Label: "label"}, `line 3 column "b": empty value`},
		{small, Spec{Label: "nope"}, `no label column "nope"`},
		{small, Spec{Label: "label", Drop: []string{"iat"}, AllowMissing: true}, `column "iat" to drop does not exist`},
		{small, Spec{Label: "label", Features: []string{"a", "z"}}, `no feature column "z"`},
		{small, Spec{Label: "label", Features: []string{"a"}, Drop: []string{"a"}}, `feature "a" is also dropped`},
		{"a,label\nNaN,x\n", Spec{Label: "label"}, "NaN"},
		{"a,label\n1x,x\n", Spec{Label: "label"}, `line 2 column "a": not a number: "1x"`},
		{"a,label\n1,\n", Spec{Label: "label"}, "empty label"},
		{"a,label\n1,x,3\n", Spec{Label: "label"}, "wrong number of fields"},
		{"a,a,label\n", Spec{Label: "label"}, `column "a" appears twice`},
		{"a,label\n", Spec{Label: "label"}, "no data rows"},
		{"a,label\n1,x\n2,y\n3,z\n", Spec{Label: "label", MaxRows: 2}, "more than 2 rows"},
		{"a,label\n" + strings.Repeat("1", 100) + ",x\n", Spec{Label: "label", MaxLineBytes: 50}, "line longer than the limit"},
		{"a,label\n\"" + strings.Repeat("1\n", 100) + "\",x\n", Spec{Label: "label", MaxLineBytes: 50}, "line longer than the limit"},
		{"", Spec{}, "no label column named"},
	}
	for _, c := range cases {
		_, err := Read(strings.NewReader(c.in), c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.in[:min(len(c.in), 30)], err, c.want)
		}
	}
}

// TestCICIoMT2024Sample checks the shared sample's shape as its README
// states it: 91,801 rows, 39 features + attack_type, 3,048 inf Rates.
func TestCICIoMT2024Sample(t *testing.T) {
	path := testenv.DataFile(t, "flows/ciciomt2024/merged_sample.csv.gz")
	d, err := ReadFile(path, Spec{Label: "attack_type", Drop: []string{"IAT"}, AllowMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.N != 91801 || d.D != 38 {
		t.Errorf("%d rows × %d features, want 91801 × 38", d.N, d.D)
	}
	if d.PosInf != 3048 || d.NegInf != 0 {
		t.Errorf("+inf %d, -inf %d; want 3048 and 0", d.PosInf, d.NegInf)
	}
	// One Recon-OS_Scan row is a one-packet window: Std and Variance empty.
	if d.Missing != 2 {
		t.Errorf("%d empty cells, want 2", d.Missing)
	}
	labels := map[string]int{}
	for _, l := range d.Labels {
		labels[l]++
	}
	if len(labels) != 21 || labels["WiFi_and_MQTT_test_Recon-Ping_Sweep_test.pcap"] != 186 {
		t.Errorf("%d capture files (want 21), Ping_Sweep %d rows (want 186)", len(labels), labels["WiFi_and_MQTT_test_Recon-Ping_Sweep_test.pcap"])
	}
}
