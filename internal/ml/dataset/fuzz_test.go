package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
)

// FuzzRead feeds arbitrary bytes (plain or gzip) to the reader: it must
// not panic, must stay within its bounds, and what it returns must be a
// consistent table without NaN.
func FuzzRead(f *testing.F) {
	f.Add([]byte(small))
	f.Add([]byte("a,label\n1,x\n\"2\",\"y\"\n"))
	f.Add([]byte("label,a\r\nx,inf\r\n"))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0})
	if dir, ok := testenv.OptionalDataDir(); ok {
		// The first lines of the real sample (with inf and an empty cell
		// line further on), renamed so the fuzz spec finds its label.
		if fh, err := os.Open(filepath.Join(dir, "flows/ciciomt2024/merged_sample.csv.gz")); err == nil {
			defer fh.Close()
			if zr, err := gzip.NewReader(fh); err == nil {
				br := bufio.NewReader(zr)
				var buf bytes.Buffer
				for i := 0; i < 6; i++ {
					line, _ := br.ReadBytes('\n')
					buf.Write(bytes.Replace(line, []byte("attack_type"), []byte("label"), 1))
				}
				f.Add(buf.Bytes())
				line := []byte("20.0,6,255.0,inf,0.0,0.0,1.0,0.0,1.0,0.0,0.0,1,0,0,1,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,0.0,0.0,0.0,0.0,0.0,1.0,1.0,60,60,60,60.0,,60.0,0.31,1,,WiFi_and_MQTT_test_Recon-OS_Scan_test.pcap\n")
				f.Add(append(bytes.SplitAfter(buf.Bytes(), []byte("\n"))[0], line...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		spec := Spec{Label: "label", AllowMissing: len(in)%2 == 0, MaxRows: 1000, MaxLineBytes: 4096}
		d, err := Read(bytes.NewReader(in), spec)
		if err != nil {
			return
		}
		if d.N == 0 || d.N > 1000 || len(d.X) != d.N*d.D || len(d.Labels) != d.N || len(d.Features) != d.D {
			t.Fatalf("inconsistent table: %d×%d, %d values, %d labels", d.N, d.D, len(d.X), len(d.Labels))
		}
		for _, v := range d.X {
			if math.IsNaN(float64(v)) {
				t.Fatal("NaN accepted")
			}
		}
		for _, l := range d.Labels {
			if l == "" {
				t.Fatal("empty label accepted")
			}
		}
	})
}
