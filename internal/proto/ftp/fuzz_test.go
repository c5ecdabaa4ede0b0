package ftp

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

// FuzzFTPSession feeds arbitrary dialogues (see encode) to a session and
// checks it neither panics nor reports anything malformed. Seeds: the
// constructed dialogues, the lab capture's FTP flows (committed under
// testdata/fuzz) and, when the shared data is present, nDPI's captures.
func FuzzFTPSession(f *testing.F) {
	for _, d := range [][]step{archiveSession(), bruteForce(), anonymous()} {
		f.Add(encode(d))
	}
	for _, name := range []string{"pcap/ndpi/ftp.pcap", "pcap/ndpi/ftp_failed.pcap", "pcap/ndpi/fuzz-2006-06-26-2594.pcap"} {
		if p := dataFile(name); p != "" {
			for _, tr := range transcripts(f, p, New(nil)) {
				f.Add(encode(tr))
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		steps := decode(in)
		d := NewWithLimits(&pairChecker{user: "admin", password: "admin"}, Limits{MaxLine: 128, MaxLogins: 3, MaxEndpoints: 2, MaxBytes: 8 << 10})
		c := testConn()
		for _, st := range steps[:min(2, len(steps))] {
			_ = d.Probe(c, st.dir, st.data)
		}
		k := &sink{}
		fd := &feeder{s: d.New(c, k)}
		for _, st := range steps {
			fd.feed(st.dir, st.data)
		}
		fd.s.End(proto.Meta{})
		var kinds []string
		attempt := 0
		for _, o := range k.obs {
			kinds = append(kinds, o.Kind)
			if _, err := json.Marshal(o); err != nil {
				t.Fatalf("marshal: %v", err)
			}
			switch dt := o.Detail.(type) {
			case *BannerDetail:
				if len(dt.Banner) > 4*DefaultLimits().BannerBytes || !utf8.ValidString(dt.Banner) {
					t.Fatalf("banner %q", dt.Banner)
				}
			case *LoginDetail:
				if dt.Attempt <= attempt {
					t.Fatalf("attempt %d after %d", dt.Attempt, attempt)
				}
				attempt = dt.Attempt
				if len(dt.User) > maxUser || !utf8.ValidString(dt.User) {
					t.Fatalf("user %q", dt.User)
				}
				switch dt.Outcome {
				case OutcomeSuccess, OutcomeFailure, OutcomeUnknown:
				default:
					t.Fatalf("outcome %q", dt.Outcome)
				}
			case *SummaryDetail:
				if len(dt.DataEndpoints) > 2 || dt.DataEndpointCount < len(dt.DataEndpoints) {
					t.Fatalf("endpoints %v / %d", dt.DataEndpoints, dt.DataEndpointCount)
				}
				if dt.LoginsOK+dt.LoginsFailed > dt.LoginAttempts {
					t.Fatalf("counts %+v", dt)
				}
			default:
				t.Fatalf("detail %T", o.Detail)
			}
		}
		if n := len(kinds); n < 2 || kinds[0] != "banner" || kinds[n-1] != "session-summary" || n > 5 {
			t.Fatalf("kinds %v", kinds)
		}
	})
}

// TestWriteLabSeeds writes lab FTP flows into the fuzz corpus. Run with
// HEIR_WRITE_SEEDS=1 after the lab capture changes.
func TestWriteLabSeeds(t *testing.T) {
	if os.Getenv("HEIR_WRITE_SEEDS") == "" {
		t.Skip("set HEIR_WRITE_SEEDS=1 to rewrite testdata/fuzz from the lab capture")
	}
	flows := transcripts(t, testenv.DataFile(t, "pcap/lab/medlab-dev.pcap"), New(nil))
	dir := filepath.Join("testdata", "fuzz", "FuzzFTPSession")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The benign sessions (LIST and RETR) and two of hydra's.
	for i, tr := range flows[:min(4, len(flows))] {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", encode(tr))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("lab-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkFTPSession(b *testing.B) {
	steps := archiveSession()
	d := New(&pairChecker{user: "service", password: "Pump-42"})
	b.SetBytes(int64(total(steps)))
	b.ReportAllocs()
	for b.Loop() {
		s := d.New(testConn(), discard{})
		for _, st := range steps {
			s.Feed(st.dir, st.data, proto.Meta{})
		}
		s.End(proto.Meta{})
	}
}

// BenchmarkFTPCommands measures the steady state of a logged-in session:
// commands and their replies.
func BenchmarkFTPCommands(b *testing.B) {
	cmds := []byte("TYPE I\r\nSIZE a\r\nRETR a\r\nNOOP\r\n")
	replies := []byte("200 Switching to Binary mode.\r\n213 101\r\n150 Opening.\r\n226 Transfer complete.\r\n200 NOOP ok.\r\n")
	s := NewWithLimits(nil, Limits{MaxBytes: 1 << 40}).New(testConn(), discard{})
	s.Feed(proto.ToClient, []byte("220 FTP ready\r\n"), proto.Meta{})
	b.SetBytes(int64(len(cmds) + len(replies)))
	b.ReportAllocs()
	for b.Loop() {
		s.Feed(proto.ToServer, cmds, proto.Meta{})
		s.Feed(proto.ToClient, replies, proto.Meta{})
	}
}

type discard struct{}

func (discard) Observe(*event.Observation) {}
