package baseline

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden baseline file")

const golden = "testdata/baseline-v1.json"

// goldenBaseline is a small learnt ward with a provisional peer and
// kind, an unseeded feature and a window in progress: every part of the
// file format.
func goldenBaseline(t testing.TB) []byte {
	t.Helper()
	cfg := wardConfig()
	cfg.LearnFor = 3 * time.Hour
	rec := newRecorder()
	b, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	w := newWard(b)
	now := w.run(t0, t0.Add(3*time.Hour+10*time.Minute))
	w.flow(now, flowSpec{client: pump, server: "10.1.0.99", sport: 8883, proto: "tls", sent: 900, recv: 300})
	w.obs(now, his, engine, 40000, 2575, "hl7", "message", hl7msg("ADT^A08"))
	b.Flush()
	var buf bytes.Buffer
	if err := b.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGoldenFile: the file format is stable (a change shows in the diff
// of testdata/baseline-v1.json, rewritten with -update), and a file read
// and written again is the same file.
func TestGoldenFile(t *testing.T) {
	got := goldenBaseline(t)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("saved baseline differs from %s (run go test -update and review the diff)", golden)
	}
	b, _ := newBaseline(t, wardConfig())
	if err := b.Load(bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := b.Save(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), want) {
		t.Error("loading and saving the golden file changed it")
	}
}

// FuzzLoad: any input is refused with an error or loaded into a baseline
// that then works (traffic to every device it holds raises no panic) and
// saves to a file that loads again to the same state.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile(golden); err == nil {
		f.Add(b)
	}
	f.Add(goldenBaseline(f))
	f.Add([]byte(`{"v":1,"type":"baseline","window":"1m0s","devices":[]}`))
	f.Add([]byte(`{"v":1,"type":"baseline","window":"1m0s","epoch":"2026-11-02T08:00:00Z","devices":[{"ip":"10.0.0.1","first":"2026-11-02T08:00:00Z","last":"2026-11-02T09:00:00Z","learn_from":"2026-11-02T08:00:00Z","learn_until":"2026-11-02T14:00:00Z","flows":3,"peers":[{"k":"1f","v":"10.0.0.2","first":"2026-11-02T08:00:00Z","last":"2026-11-02T08:00:00Z","n":1}],"services":[{"k":"2","v":"client tcp/104","sent":{"n":3,"seed":[1,2,3]},"gap":{"n":20,"seeded":true,"m":3,"s":0.5,"hi":4,"lo":2}}],"window_index":3,"window_counts":[1,0,5,0],"window_stats":[{"n":1,"seed":[0.69]},null,null,null]}]}`))
	f.Add([]byte(`{"v":1,"type":"baseline","devices":[{"ip":"::ffff:10.0.0.1"},{"ip":"10.0.0.1"}]}`))
	f.Add([]byte(`{"v":1,"type":"baseline","devices":[{"ip":"8.8.8.8"}]}`))
	cfg := wardConfig()
	cfg.Limits = Limits{MaxDevices: 8, MaxPeers: 4, MaxServices: 4, MaxKinds: 4, MaxMACs: 2, MaxIncidents: 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 256<<10 {
			return
		}
		b, err := New(cfg, newRecorder())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Load(bytes.NewReader(data)); err != nil {
			if b.Stats().Devices != 0 {
				t.Fatal("a refused file left devices behind")
			}
			return
		}
		if n := b.Stats().Devices; n > cfg.Limits.MaxDevices {
			t.Fatalf("%d devices loaded, limit %d", n, cfg.Limits.MaxDevices)
		}
		var s1 bytes.Buffer
		if err := b.Save(&s1); err != nil {
			t.Fatalf("save after load: %v", err)
		}
		b2, _ := New(cfg, newRecorder())
		if err := b2.Load(bytes.NewReader(s1.Bytes())); err != nil {
			t.Fatalf("a saved file does not load: %v\n%s", err, s1.Bytes())
		}
		var s2 bytes.Buffer
		if err := b2.Save(&s2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s1.Bytes(), s2.Bytes()) {
			t.Fatalf("save, load, save changed the file:\n%s\n%s", s1.Bytes(), s2.Bytes())
		}
		// Traffic to and from every loaded device, with every numeric
		// feature exercised.
		addrs := make([]netip.Addr, 0, len(b.devices))
		for a := range b.devices {
			addrs = append(addrs, a)
		}
		n := &lan{b: b}
		now := b.now
		if now.IsZero() || now.Year() > 3000 || now.Year() < 1900 {
			now = t0
		}
		for i, a := range addrs {
			for j := range 3 {
				at := now.Add(time.Duration(i*3+j) * time.Second)
				n.flow(at, flowSpec{client: a.String(), server: "10.9.9.9", sport: 104, sent: uint64(1 + j*1e6), recv: 10})
				n.flow(at, flowSpec{client: "10.9.9.8", server: a.String(), sport: 104, sent: 10, recv: uint64(1 + j*1e6)})
				n.obs(at, a.String(), "10.9.9.9", 1, 2, "hl7", "message", hl7msg("ADT^A99"))
			}
		}
		b.Tick(now.Add(time.Hour))
		b.Flush()
		var s3 bytes.Buffer
		if err := b.Save(&s3); err != nil {
			t.Fatalf("save after traffic: %v", err)
		}
	})
}
