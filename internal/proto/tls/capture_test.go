package tls

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

func runCapture(t *testing.T, rel string) *sensortest.Result {
	t.Helper()
	path := testenv.DataFile(t, rel)
	return sensortest.Run(t, sensor.Config{}, []proto.Dissector{New(), NewDTLS()}, path)
}

func ofKind(r *sensortest.Result, kind string) []*event.Observation {
	var out []*event.Observation
	for _, o := range r.Observations {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// TestNDPICaptures checks what we read against nDPI's verdicts (the .out
// files beside the captures: SNI, JA3C, JA3S, cipher, certificate SHA-1
// and validity) and, for what nDPI does not print, against
// `openssl x509 -text` on the certificates tshark extracts.
func TestNDPICaptures(t *testing.T) {
	cases := []struct {
		file       string
		proto      string
		sni        string
		ja3        string
		version    string // negotiated; "" when the server never answered
		cipher     string
		ja3s       string
		alpn       string
		certSHA1   string // leaf
		certCN     string
		chainLen   int
		certWeak   []string // leaf reasons; nil for none
		obsolete   bool
		clientWeak bool
	}{
		{file: "pcap/ndpi/443-curl.pcap", proto: "tls", sni: "www.ntop.org", ja3: "2a26b1a62e40d25d4de3babc9d532f30",
			version: "TLSv1.2", cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", ja3s: "ae53107a2e47ea20c72ac44821a728bf", alpn: "h2",
			certSHA1: "dba7e43e6dbb21ab684735e80b8f15dfdbc7c96f", certCN: "www.ntop.org", chainLen: 2},
		{file: "pcap/ndpi/selfsigned.pcap", proto: "tls", sni: "localhost", ja3: "2a26b1a62e40d25d4de3babc9d532f30",
			version: "TLSv1.2", cipher: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", ja3s: "0debd3853f330c574b05e0b6d882dc27",
			certSHA1: "afcc9849f2000e0521186c775f2acf10446ed88b", chainLen: 1, certWeak: []string{"self-signed", "expired"}},
		{file: "pcap/ndpi/ssl-cert-name-mismatch.pcap", proto: "tls", sni: "wrong.host.badssl.com", ja3: "4e69e4e5627c5e4c2846ba3e64d23fb9",
			version: "TLSv1.2", cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", ja3s: "b898351eb5e266aefd3723d466935494", alpn: "http/1.1",
			certSHA1: "1845b216efd0839a1851a957325da336217049cb", certCN: "*.badssl.com", chainLen: 2},
		{file: "pcap/ndpi/tls_1.2_unidirectional_client.pcapng", proto: "tls", sni: "notifications-pa.googleapis.com",
			ja3: "66fdcab9689b131fd04777de513ae009"},
		// nDPI flags this one because the leaf's SHA-1 fingerprint is on a
		// blocklist of malicious certificates, not for a SHA-1 signature:
		// every certificate in the chain is sha256WithRSAEncryption with
		// RSA ≥ 2048 and valid at capture time (2023-12-10), so it must
		// NOT raise weak-certificate. The fingerprint is reported for a
		// blocklist check downstream.
		{file: "pcap/ndpi/tls_malicious_sha1.pcapng", proto: "tls", sni: "www.prbtest.dev", ja3: "00bcd759cb8ad485fdbf1e7a0c5b94b4",
			version: "TLSv1.2", cipher: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", ja3s: "e2bc06b738d7e5d2b0cec5d2196b1d80", alpn: "h2",
			certSHA1: "0ddb34f875632c7e1ec09d75827f82d2336dfeb6", certCN: "www.prbtest.dev", chainLen: 3},
		{file: "pcap/ndpi/dtls_old_version.pcapng", proto: "dtls", ja3: "be3660f0bdab46442f52b205919fee37",
			version: "DTLSv1.0-pre", cipher: "TLS_RSA_WITH_AES_256_CBC_SHA", ja3s: "8f48e117ae3543615168a2b087cda528",
			obsolete: true, clientWeak: true},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			r := runCapture(t, tc.file)
			chs := ofKind(r, KindClientHello)
			if len(chs) != 1 {
				t.Fatalf("%d client hellos; kinds %v", len(chs), r.Kinds())
			}
			if chs[0].Proto != tc.proto {
				t.Errorf("proto %q", chs[0].Proto)
			}
			ch := chs[0].Detail.(*ClientHello)
			if ch.SNI != tc.sni || ch.JA3Hash != tc.ja3 {
				t.Errorf("client hello SNI %q JA3 %s, want %q %s", ch.SNI, ch.JA3Hash, tc.sni, tc.ja3)
			}
			if (len(chs[0].Weaknesses) > 0) != tc.clientWeak {
				t.Errorf("client weaknesses %+v", chs[0].Weaknesses)
			}
			shs := ofKind(r, KindServerHello)
			if tc.version == "" {
				if len(shs) != 0 {
					t.Errorf("server hello in a one-way capture")
				}
				return
			}
			if len(shs) != 1 {
				t.Fatalf("%d server hellos", len(shs))
			}
			sh := shs[0].Detail.(*ServerHello)
			if sh.Version != tc.version || sh.CipherSuite != tc.cipher || sh.JA3SHash != tc.ja3s || sh.ALPN != tc.alpn {
				t.Errorf("server hello %s %s %s %q, want %s %s %s %q", sh.Version, sh.CipherSuite, sh.JA3SHash, sh.ALPN,
					tc.version, tc.cipher, tc.ja3s, tc.alpn)
			}
			if got := len(weaknesses(r.Observations, event.WeakObsoleteTLS)) > 0; got != tc.obsolete {
				t.Errorf("obsolete-tls %v", got)
			}
			if len(weaknesses(r.Observations, event.WeakCipher)) != 0 {
				t.Errorf("weak-cipher on a strong suite")
			}
			certs := ofKind(r, KindCertificate)
			if tc.chainLen == 0 {
				if len(certs) != 0 {
					t.Errorf("%d certificate observations", len(certs))
				}
				return
			}
			if len(certs) != 1 {
				t.Fatalf("%d certificate observations", len(certs))
			}
			chain := certs[0].Detail.(*CertificateChain)
			leaf := chain.Certificates[0]
			if len(chain.Certificates) != tc.chainLen || leaf.SHA1 != tc.certSHA1 || leaf.SubjectCN != tc.certCN {
				t.Errorf("chain of %d, leaf %s %q", len(chain.Certificates), leaf.SHA1, leaf.SubjectCN)
			}
			if !slices.Equal(leaf.Weak, tc.certWeak) {
				t.Errorf("leaf weak %q, want %q", leaf.Weak, tc.certWeak)
			}
			ws := weaknesses(r.Observations, event.WeakCertificate)
			if len(ws) != len(slices.DeleteFunc(slices.Clone(chain.Certificates), func(c Certificate) bool { return c.Weak == nil })) {
				t.Errorf("weak-certificate %+v", ws)
			}
			for _, w := range ws {
				if w.About != event.AboutSrc || certs[0].Src != shs[0].Src {
					t.Errorf("weakness about %s of %v", w.About, certs[0].Src)
				}
			}
		})
	}
}

func TestSelfSignedCaptureDetails(t *testing.T) {
	r := runCapture(t, "pcap/ndpi/selfsigned.pcap")
	c := ofKind(r, KindCertificate)[0]
	leaf := c.Detail.(*CertificateChain).Certificates[0]
	// nDPI: [Issuer: C=IT, ST=Some-State, O=ntop.org][Subject: C=IT,
	// ST=Some-State, O=ntop.org][Validity: 2015-10-10 15:55:47 -
	// 2016-10-09 15:55:47]; openssl: sha256WithRSAEncryption, RSA 2048.
	if leaf.Subject != "O=ntop.org,ST=Some-State,C=IT" || leaf.Issuer != leaf.Subject || !leaf.SelfSigned ||
		!leaf.SelfSignatureChecked || !leaf.Expired || leaf.SignatureAlgorithm != "sha256WithRSAEncryption" ||
		leaf.PublicKeyBits != 2048 || leaf.NotBefore != time.Date(2015, 10, 10, 15, 55, 47, 0, time.UTC) ||
		leaf.NotAfter != time.Date(2016, 10, 9, 15, 55, 47, 0, time.UTC) {
		t.Errorf("leaf %+v", leaf)
	}
	if !hasFact(c, event.AboutSrc, event.AttrCertSubject, "O=ntop.org,ST=Some-State,C=IT") {
		t.Errorf("facts %+v", c.Facts)
	}
	if ws := c.Weaknesses; len(ws) != 1 || ws[0].Detail != "leaf certificate: self-signed, expired" {
		t.Errorf("weaknesses %+v", ws)
	}
}

// tsharkHello is one handshake frame as tshark decodes it.
type tsharkHello struct {
	frame      uint64
	types      []string
	sni        string
	ja3, ja3s  string
	suites     string
	firstSuite uint16
}

func tsharkHellos(t *testing.T, path, layer string) []tsharkHello {
	t.Helper()
	tshark := testenv.Tool(t, "tshark")
	cmd := exec.Command(tshark, "-r", path, "-Y", layer+".handshake.type==1 || "+layer+".handshake.type==2", "-T", "fields",
		"-E", "separator=|", "-e", "frame.number", "-e", layer+".handshake.type", "-e", layer+".handshake.extensions_server_name",
		"-e", layer+".handshake.ja3", "-e", layer+".handshake.ja3s", "-e", layer+".handshake.ciphersuite")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var hs []tsharkHello
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 6 {
			continue
		}
		frame, _ := strconv.ParseUint(f[0], 10, 64)
		h := tsharkHello{frame: frame, types: strings.Split(f[1], ","), sni: f[2], ja3: f[3], ja3s: f[4], suites: f[5]}
		if first, _, _ := strings.Cut(f[5], ","); first != "" {
			v, _ := strconv.ParseUint(strings.TrimPrefix(first, "0x"), 16, 16)
			h.firstSuite = uint16(v)
		}
		hs = append(hs, h)
	}
	return hs
}

// TestAgainstTshark compares every ClientHello and ServerHello with
// tshark's own decoding, frame by frame: SNI, JA3, JA3S and the chosen
// suite.
func TestAgainstTshark(t *testing.T) {
	files := []struct{ rel, layer string }{
		{"pcap/ndpi/443-curl.pcap", "tls"}, {"pcap/ndpi/selfsigned.pcap", "tls"},
		{"pcap/ndpi/ssl-cert-name-mismatch.pcap", "tls"}, {"pcap/ndpi/tls_1.2_unidirectional_client.pcapng", "tls"},
		{"pcap/ndpi/tls_malicious_sha1.pcapng", "tls"}, {"pcap/ndpi/dtls_old_version.pcapng", "dtls"},
		{"pcap/lab/medlab-dev.pcap", "tls"},
	}
	for _, f := range files {
		t.Run(f.rel, func(t *testing.T) {
			path := testenv.DataFile(t, f.rel)
			r := runCapture(t, f.rel)
			byFrame := map[uint64][]*event.Observation{}
			for _, o := range r.Observations {
				byFrame[o.Frame] = append(byFrame[o.Frame], o)
			}
			find := func(frame uint64, kind string) *event.Observation {
				for _, o := range byFrame[frame] {
					if o.Kind == kind {
						return o
					}
				}
				return nil
			}
			hs := tsharkHellos(t, path, f.layer)
			if len(hs) == 0 {
				t.Fatal("tshark found no hellos")
			}
			chs := 0
			for _, h := range hs {
				if slices.Contains(h.types, "1") {
					chs++
					o := find(h.frame, KindClientHello)
					if o == nil {
						// DTLS clients repeat their hello; we report the first.
						if f.layer == "dtls" {
							continue
						}
						t.Errorf("frame %d: no client-hello", h.frame)
						continue
					}
					d := o.Detail.(*ClientHello)
					if d.SNI != h.sni || d.JA3Hash != h.ja3 {
						t.Errorf("frame %d: SNI %q JA3 %s; tshark %q %s", h.frame, d.SNI, d.JA3Hash, h.sni, h.ja3)
					}
				}
				if slices.Contains(h.types, "2") {
					o := find(h.frame, KindServerHello)
					if o == nil {
						t.Errorf("frame %d: no server-hello", h.frame)
						continue
					}
					d := o.Detail.(*ServerHello)
					if d.JA3SHash != h.ja3s || d.CipherSuiteID != h.firstSuite {
						t.Errorf("frame %d: JA3S %s suite %#04x; tshark %s %#04x", h.frame, d.JA3SHash, d.CipherSuiteID, h.ja3s, h.firstSuite)
					}
				}
			}
			if got := len(ofKind(r, KindClientHello)); f.layer == "tls" && got != chs {
				t.Errorf("%d client hellos, tshark %d", got, chs)
			}
		})
	}
}

// window is one activity of the lab capture's ground truth.
type window struct {
	Label            string            `json:"label"`
	Start            float64           `json:"start"`
	End              float64           `json:"end"`
	SrcIPs           []string          `json:"src_ips"`
	DstIPs           []string          `json:"dst_ips"`
	DstPorts         []int             `json:"dst_ports"`
	ExpectedFindings []json.RawMessage `json:"expected_findings"`
	Details          struct {
		Connections int    `json:"connections"`
		SNI         string `json:"sni"`
		Certificate struct {
			SubjectCN  string `json:"subject_cn"`
			SelfSigned bool   `json:"self_signed"`
			Key        string `json:"key"`
			Signature  string `json:"signature"`
		} `json:"certificate"`
	} `json:"details"`
}

func labWindows(t *testing.T) map[string]window {
	t.Helper()
	f, err := os.Open(testenv.DataFile(t, "pcap/lab/medlab-dev.ground_truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ws := map[string]window{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var w window
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			t.Fatalf("ground truth: %v", err)
		}
		ws[w.Label] = w
	}
	return ws
}

// in says whether o happened in w between its hosts.
func (w window) in(o *event.Observation) bool {
	ts := float64(o.Time.UnixMicro()) / 1e6
	if ts < w.Start-1 || ts > w.End+1 {
		return false
	}
	a, b := o.Src.IP.String(), o.Dst.IP.String()
	return (slices.Contains(w.SrcIPs, a) && slices.Contains(w.DstIPs, b)) || (slices.Contains(w.SrcIPs, b) && slices.Contains(w.DstIPs, a))
}

func TestLabCapture(t *testing.T) {
	ws := labWindows(t)
	r := runCapture(t, "pcap/lab/medlab-dev.pcap")

	t.Run("benign-tls10", func(t *testing.T) {
		w, ok := ws["benign-tls10"]
		if !ok {
			t.Fatal("no benign-tls10 window")
		}
		var expect struct {
			Type     string `json:"type"`
			Version  string `json:"version"`
			Server   string `json:"server"`
			KeyBits  int    `json:"key_bits"`
			Sig      string `json:"signature"`
			SelfSign bool   `json:"self_signed"`
		}
		var obsoleteServer, sig string
		var keyBits int
		var selfSigned bool
		for _, raw := range w.ExpectedFindings {
			if err := json.Unmarshal(raw, &expect); err != nil {
				t.Fatal(err)
			}
			switch expect.Type {
			case "obsolete-tls":
				obsoleteServer = expect.Server
				if expect.Version != "TLSv1.0" {
					t.Fatalf("ground truth changed: %s", expect.Version)
				}
			case "weak-certificate":
				keyBits, sig, selfSigned = expect.KeyBits, expect.Sig, expect.SelfSign
			}
		}
		var hellos, certs int
		for _, o := range r.Observations {
			if !w.in(o) {
				continue
			}
			switch o.Kind {
			case KindClientHello:
				if d := o.Detail.(*ClientHello); d.SNI != w.Details.SNI {
					t.Errorf("SNI %q, want %q", d.SNI, w.Details.SNI)
				}
				if !hasFact(o, event.AboutDst, event.AttrHostname, w.Details.SNI) {
					t.Errorf("hostname fact %+v", o.Facts)
				}
			case KindServerHello:
				hellos++
				d := o.Detail.(*ServerHello)
				if d.Version != "TLSv1.0" || o.Src.IP.String() != obsoleteServer || int(o.Src.Port) != w.DstPorts[0] {
					t.Errorf("server hello %s from %v", d.Version, o.Src)
				}
				if len(o.Weaknesses) != 1 || o.Weaknesses[0].Kind != event.WeakObsoleteTLS || o.Weaknesses[0].About != event.AboutSrc ||
					o.Weaknesses[0].Detail != "TLS 1.0 negotiated" {
					t.Errorf("server hello weaknesses %+v", o.Weaknesses)
				}
			case KindCertificate:
				certs++
				leaf := o.Detail.(*CertificateChain).Certificates[0]
				wantWeak := []string{"sha1WithRSAEncryption signature", "RSA " + strconv.Itoa(keyBits) + "-bit key"}
				if selfSigned {
					wantWeak = append([]string{"self-signed"}, wantWeak...)
				}
				if leaf.SubjectCN != w.Details.Certificate.SubjectCN || leaf.SignatureAlgorithm != sig ||
					leaf.PublicKeyBits != keyBits || leaf.SelfSigned != selfSigned || !slices.Equal(leaf.Weak, wantWeak) {
					t.Errorf("leaf %+v", leaf)
				}
				if len(o.Weaknesses) != 1 || o.Weaknesses[0].Kind != event.WeakCertificate || o.Src.IP.String() != obsoleteServer {
					t.Errorf("certificate weaknesses %+v from %v", o.Weaknesses, o.Src)
				}
				if !hasFact(o, event.AboutSrc, event.AttrCertSubject, leaf.Subject) {
					t.Errorf("facts %+v", o.Facts)
				}
			}
		}
		if hellos != w.Details.Connections || certs != w.Details.Connections {
			t.Errorf("%d server hellos, %d certificates; %d connections", hellos, certs, w.Details.Connections)
		}
	})

	t.Run("benign-tls13", func(t *testing.T) {
		w, ok := ws["benign-tls13"]
		if !ok {
			t.Fatal("no benign-tls13 window")
		}
		var observed struct {
			Observed struct {
				TLS struct{ Version, Cipher string } `json:"tls"`
			} `json:"observed"`
		}
		raw := labRaw(t, "benign-tls13")
		if err := json.Unmarshal(raw, &observed); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, o := range r.Observations {
			if !w.in(o) {
				continue
			}
			n++
			for _, wk := range o.Weaknesses {
				t.Errorf("negative control raised %s: %s", wk.Kind, wk.Detail)
			}
			switch o.Kind {
			case KindServerHello:
				d := o.Detail.(*ServerHello)
				if d.Version != observed.Observed.TLS.Version || d.CipherSuite != observed.Observed.TLS.Cipher {
					t.Errorf("server hello %s %s, want %+v", d.Version, d.CipherSuite, observed.Observed.TLS)
				}
			case KindClientHello:
				if d := o.Detail.(*ClientHello); d.SNI != w.Details.SNI || d.MaxVersion != "TLSv1.3" {
					t.Errorf("client hello %+v", d)
				}
			default:
				t.Errorf("unexpected %s in TLS 1.3", o.Kind)
			}
		}
		if n != 2 {
			t.Errorf("%d observations, want client-hello and server-hello", n)
		}
	})
}

func labRaw(t *testing.T, label string) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.DataFile(t, "pcap/lab/medlab-dev.ground_truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"label": "`+label+`"`) {
			return []byte(line)
		}
	}
	t.Fatalf("no %s in ground truth", label)
	return nil
}

// TestCaptureSessionsStopEarly checks that complete handshakes end their
// sessions (the engine then stops reassembling) instead of running to the
// end of the flow.
func TestCaptureSessionsStopEarly(t *testing.T) {
	r := runCapture(t, "pcap/ndpi/443-curl.pcap")
	// The flow carries ~70 KB of server data; stopping after the client's
	// ChangeCipherSpec leaves nearly all of it unread.
	if r.Stats.Flow.HeldBytes != 0 || r.Stats.Flow.Skipped > 1000 {
		t.Errorf("held %d, skipped %d: session kept reading after the handshake", r.Stats.Flow.HeldBytes, r.Stats.Flow.Skipped)
	}
}
