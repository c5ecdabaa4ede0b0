package telnet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/testenv"
)

// FuzzTelnetSession feeds arbitrary dialogues (see encode) to a session
// and checks it neither panics nor reports anything malformed. Seeds: the
// constructed dialogues, the lab capture's Telnet flows (committed under
// testdata/fuzz) and, when the shared data is present, nDPI's telnet.pcap.
func FuzzTelnetSession(f *testing.F) {
	for _, d := range [][]step{busyboxLogin("admin", "admin"), retryDialogue(), iacDialogue()} {
		f.Add(encode(d))
	}
	if p := dataFile("pcap/ndpi/telnet.pcap"); p != "" {
		for _, tr := range transcripts(f, p, New(nil)) {
			f.Add(encode(tr))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		steps := decode(in)
		d := NewWithLimits(&pairChecker{user: "admin", password: "admin"}, Limits{MaxAttempts: 4, MaxBytes: 8 << 10})
		c := testConn()
		for _, st := range steps[:min(2, len(steps))] {
			_ = d.Probe(c, st.dir, st.data)
		}
		k := &sink{}
		s := d.New(c, k).(*session)
		fd := &feeder{s: s}
		for _, st := range steps {
			fd.feed(st.dir, st.data)
		}
		s.End(proto.Meta{})
		banners, attempt := 0, 0
		for _, o := range k.obs {
			if _, err := json.Marshal(o); err != nil {
				t.Fatalf("marshal: %v", err)
			}
			switch dt := o.Detail.(type) {
			case *BannerDetail:
				banners++
				if len(dt.Banner) > 4*DefaultLimits().BannerBytes || !utf8.ValidString(dt.Banner) {
					t.Fatalf("banner %q", dt.Banner)
				}
			case *LoginDetail:
				if dt.Attempt <= attempt || dt.Attempt > 4 {
					t.Fatalf("attempt numbers out of order: %d after %d", dt.Attempt, attempt)
				}
				attempt = dt.Attempt
				if len(dt.User) > maxUser || !utf8.ValidString(dt.User) {
					t.Fatalf("user %q", dt.User)
				}
				for _, r := range dt.User {
					if r < 0x20 || r == 0x7f {
						t.Fatalf("control character in user %q", dt.User)
					}
				}
				switch dt.Outcome {
				case OutcomeSuccess, OutcomeFailure, OutcomeUnknown:
				default:
					t.Fatalf("outcome %q", dt.Outcome)
				}
			default:
				t.Fatalf("detail %T", o.Detail)
			}
		}
		if banners > 1 || (len(k.obs) > 0 && k.obs[0].Kind != "banner") {
			t.Fatalf("%d banners, first %s", banners, k.obs[0].Kind)
		}
		for _, b := range s.typed {
			if b != 0 {
				t.Fatal("typed buffer not wiped at End")
			}
		}
	})
}

// TestWriteLabSeeds writes the lab capture's Telnet flows into the fuzz
// corpus. Run with HEIR_WRITE_SEEDS=1 after the lab capture changes.
func TestWriteLabSeeds(t *testing.T) {
	if os.Getenv("HEIR_WRITE_SEEDS") == "" {
		t.Skip("set HEIR_WRITE_SEEDS=1 to rewrite testdata/fuzz from the lab capture")
	}
	flows := transcripts(t, testenv.DataFile(t, "pcap/lab/medlab-dev.pcap"), New(nil))
	dir := filepath.Join("testdata", "fuzz", "FuzzTelnetSession")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The first flow is the benign login, the next two hydra's first
	// attempts; the rest repeat them.
	for i, tr := range flows[:min(3, len(flows))] {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", encode(tr))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("lab-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkTelnetLogin(b *testing.B) {
	steps := busyboxLogin("service", "Pump-42")
	chk := &pairChecker{user: "service", password: "Pump-42"}
	d := New(chk)
	n := int64(total(steps))
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		s := d.New(testConn(), discard{})
		for _, st := range steps {
			s.Feed(st.dir, st.data, proto.Meta{})
		}
		s.End(proto.Meta{})
	}
}

// BenchmarkTelnetText measures the steady state: server text and
// negotiation before any login, which the session parses byte by byte.
func BenchmarkTelnetText(b *testing.B) {
	chunk := []byte("\xff\xfb\x01Welcome to the ward console, unauthorised access prohibited\r\n\xff\xfd\x1f")
	d := NewWithLimits(nil, Limits{MaxBytes: 1 << 30})
	s := d.New(testConn(), discard{})
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		s.Feed(proto.ToClient, chunk, proto.Meta{})
	}
}

type discard struct{}

func (discard) Observe(*event.Observation) {}
