package httpproto

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/testenv"
)

func TestResourceList(t *testing.T) {
	if n := len(resourceTypes); n != 146 {
		t.Errorf("%d R4 resource types, want 146", n)
	}
	for _, ty := range []string{"Patient", "Observation", "Bundle", "Parameters", "VisionPrescription", "MedicinalProductUndesirableEffect"} {
		if resourceType([]byte(ty)) != ty {
			t.Errorf("%s missing", ty)
		}
	}
	for _, ty := range []string{"patient", "Resource", "DomainResource", "ProcedureRequest", "DeviceComponent"} {
		if resourceType([]byte(ty)) != "" {
			t.Errorf("%s is not an R4 resource type", ty)
		}
	}
	for ty := range phiTypes {
		if resourceTypes[ty] == "" {
			t.Errorf("PHI type %s not in R4", ty)
		}
	}
	for ty := range ambiguousTypes {
		if resourceTypes[ty] == "" {
			t.Errorf("ambiguous type %s not in R4", ty)
		}
	}
}

// TestFHIRRequests runs request lines through a session and checks what
// it calls FHIR.
func TestFHIRRequests(t *testing.T) {
	for _, tc := range []struct {
		method, target, headers string
		// want: "" for not FHIR, else "Resource operation [opname]"
		want string
		path string // reported path, when checked
	}{
		{"GET", "/fhir/Patient/123", "", "Patient read", "/fhir/Patient/{id}"},
		{"HEAD", "/fhir/Patient/123", "", "Patient read", ""},
		{"GET", "/baseR4/Observation/abc-1.2/_history/3", "", "Observation vread", "/baseR4/Observation/{id}/_history/{vid}"},
		{"GET", "/fhir/Patient/123/_history", "", "Patient history", ""},
		{"GET", "/fhir/Patient/_history", "", "Patient history", ""},
		{"GET", "/fhir/_history", "", " history", ""},
		{"GET", "/fhir/Patient?name=smith&_count=10", "", "Patient search", "/fhir/Patient"},
		{"GET", "/Observation?patient=Patient/1&code=8867-4", "", "Observation search", ""},
		{"POST", "/fhir/Patient/_search", "", "Patient search", ""},
		{"GET", "/fhir/Patient/123/Observation", "", "Patient search", "/fhir/Patient/{id}/Observation"},
		{"GET", "/fhir/Patient/123/*", "", "Patient search", ""},
		{"POST", "/fhir/Patient", "", "Patient create", ""},
		{"PUT", "/fhir/Patient/123", "", "Patient update", ""},
		{"PUT", "/fhir/Patient?identifier=x", "", "Patient update", ""},
		{"PATCH", "/fhir/Patient/123", "", "Patient patch", ""},
		{"DELETE", "/fhir/Patient/123", "", "Patient delete", ""},
		{"DELETE", "/fhir/Observation?subject=x", "", "Observation delete", ""},
		{"GET", "/fhir/metadata", "", " capabilities", "/fhir/metadata"},
		{"GET", "/metadata", "", "", ""},
		{"GET", "/metadata", "Accept: application/fhir+json\r\n", " capabilities", ""},
		{"POST", "/fhir", "Content-Type: application/fhir+json\r\n", " transaction", ""},
		{"POST", "/", "Content-Type: application/fhir+xml\r\n", " transaction", ""},
		{"POST", "/r4", "", " transaction", ""},
		{"POST", "/fhir/$process-message", "", " operation $process-message", ""},
		{"GET", "/fhir/Patient/123/$everything", "", "Patient operation $everything", "/fhir/Patient/{id}/$everything"},
		{"POST", "/fhir/ValueSet/$expand", "", "ValueSet operation $expand", ""},
		{"GET", "/Patient/example", "", "Patient read", ""},
		{"GET", "/api/v4/Encounter/e1", "", "Encounter read", ""},
		{"GET", "/Account/Login", "", "", "/Account/Login"},
		{"GET", "/Media/logo.png", "", "", ""},
		{"GET", "/fhir/Media/m1", "", "Media read", ""},
		{"GET", "/Device/d1", "Accept: application/fhir+json\r\n", "Device read", ""},
		{"GET", "/patient/123", "", "", ""},
		{"GET", "/fhir/Patient/1/2/3/4", "", "", ""},
		{"GET", "/fhir/Patient/bad_id!", "", "", ""},
		{"POST", "/fhir/Patient/123", "", "", ""},
		{"GET", "/index.html", "", "", ""},
		{"GET", "/Group/1", "", "", ""},
		{"GET", "/Group?_id=1", "", "Group search", ""},
	} {
		name := tc.method + " " + tc.target
		_, out := play(t, nil, []step{{c2s, fmt.Sprintf("%s %s HTTP/1.1\r\nHost: fhir.example.org\r\n%s\r\n", tc.method, tc.target, tc.headers)}}, nil)
		reqs := requests(out.obs)
		if len(reqs) != 1 {
			t.Errorf("%s: %d requests", name, len(reqs))
			continue
		}
		r := reqs[0]
		got := ""
		if r.FHIR != nil {
			got = strings.TrimSpace(r.FHIR.Resource + " " + r.FHIR.Operation + " " + r.FHIR.OpName)
			if r.FHIR.Resource == "" {
				got = " " + got
			}
		}
		if got != tc.want {
			t.Errorf("%s: FHIR %q, want %q", name, got, tc.want)
		}
		if tc.path != "" && r.Path != tc.path {
			t.Errorf("%s: path %q, want %q", name, r.Path, tc.path)
		}
		clientFHIR := false
		for _, f := range factsOf(out.obs, event.AttrClient) {
			if f == "src:fhir" {
				clientFHIR = true
			}
		}
		if clientFHIR != (tc.want != "") {
			t.Errorf("%s: client fhir fact %v", name, clientFHIR)
		}
	}
}

func TestSniffBody(t *testing.T) {
	for _, tc := range []struct {
		body, top, bundle, inner string
	}{
		{`{"resourceType":"Patient","id":"1"}`, "Patient", "", ""},
		{"\xef\xbb\xbf\n {\n \"id\": \"1\",\n \"resourceType\" : \"Observation\"}", "Observation", "", ""},
		{`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","type":"x"}},{"resource":{"resourceType":"Encounter"}}]}`, "Bundle", "searchset", "Patient Encounter"},
		{`{"note":"resourceType \"Patient\"","text":{"div":"{\"resourceType\":\"Patient\"}"}}`, "", "", ""},
		{`{"resourceType":"NotAType"}`, "", "", ""},
		{`{"a":{"resourceType":"Patient"}}`, "", "", ""},
		{`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Pat`, "Bundle", "transaction", ""},
		{`<?xml version="1.0"?><!-- c --><Patient xmlns="http://hl7.org/fhir"><id value="1"/></Patient>`, "Patient", "", ""},
		{`<Bundle xmlns="http://hl7.org/fhir"><type value="batch"/><entry><resource><Observation><id value="o"/></Observation></resource></entry></Bundle>`, "Bundle", "batch", "Observation"},
		{`<f:Patient xmlns:f="http://hl7.org/fhir"/>`, "Patient", "", ""},
		{`<Patient><id value="1"/></Patient>`, "", "", ""},
		{`<html><body>Patient</body></html>`, "", "", ""},
		{`[{"resourceType":"Patient"}]`, "", "", ""},
		{``, "", "", ""},
	} {
		info := sniffBody([]byte(tc.body))
		inner := strings.Join(info.inner[:info.nInner], " ")
		if info.top != tc.top || info.bundleType != tc.bundle || inner != tc.inner {
			t.Errorf("%q: top %q bundle %q inner %q", tc.body, info.top, info.bundleType, inner)
		}
	}
}

// TestSyntheaBundles serves real Synthea R4 bundles as response and
// request bodies: a patient bundle must raise cleartext-phi naming
// resource types only; the practitioner directory must not.
func TestSyntheaBundles(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "fhir", "synthea")
	patientFile := filepath.Join(dir, "Bob965_Keeling57_3f6fd0bb-6cd3-eb3f-4401-cd38ace25f2b.json")
	patient, err := os.ReadFile(patientFile)
	if err != nil {
		t.Fatalf("read bundle: %v", err)
	}
	practitioners, err := os.ReadFile(filepath.Join(dir, "practitionerInformation1603148702656.json"))
	if err != nil {
		t.Fatalf("read bundle: %v", err)
	}
	canaries := []string{"Bob965", "Keeling57", "3f6fd0bb", "Massachusetts"}

	for _, framing := range []string{"length", "chunked", "close"} {
		t.Run(framing, func(t *testing.T) {
			var resp string
			switch framing {
			case "length":
				resp = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\n\r\n%s", len(patient), patient)
			case "chunked":
				resp = "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(string(patient), 1000)
			case "close":
				resp = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + string(patient)
			}
			f, out := play(t, nil, []step{
				{c2s, "GET /fhir/Patient/3f6fd0bb-6cd3-eb3f-4401-cd38ace25f2b/$everything HTTP/1.1\r\nHost: ehr.example.org\r\n\r\n"},
				{s2c, resp},
			}, func(_ int, d string) []int {
				var cuts []int
				for k := 1460; k < len(d); k += 1460 {
					cuts = append(cuts, k)
				}
				return cuts
			})
			if framing == "length" && f.skipped < len(patient)/2 {
				t.Errorf("skipped only %d of %d body bytes", f.skipped, len(patient))
			}
			// Chunks are walked, not buffered.
			if f.maxHeld > 64 {
				t.Errorf("held up to %d bytes", f.maxHeld)
			}
			var phi []event.Weakness
			for _, o := range out.obs {
				for _, w := range o.Weaknesses {
					if w.Kind == event.WeakCleartextPHI {
						if o.Kind != KindResponse || w.About != event.AboutSrc {
							t.Errorf("cleartext-phi on %s about %s", o.Kind, w.About)
						}
						phi = append(phi, w)
					}
				}
			}
			if len(phi) != 1 || !strings.HasPrefix(phi[0].Detail, "FHIR Bundle with Patient") {
				t.Fatalf("cleartext-phi = %+v", phi)
			}
			r := responses(out.obs)[0]
			if r.FHIR == nil || r.FHIR.BundleType != "transaction" || r.FHIR.Body[0] != "Bundle" || r.FHIR.Body[1] != "Patient" {
				t.Errorf("FHIR = %+v", r.FHIR)
			}
			js := canon(t, out.obs)
			for _, c := range canaries {
				if strings.Contains(js, c) {
					t.Errorf("output contains %q", c)
				}
			}
			if !strings.Contains(js, "/fhir/Patient/{id}/$everything") {
				t.Errorf("path not redacted: %s", js)
			}
		})
	}

	t.Run("practitioners", func(t *testing.T) {
		_, out := play(t, nil, []step{
			{c2s, "GET /fhir/Practitioner HTTP/1.1\r\n\r\n"},
			{s2c, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\n\r\n%s", len(practitioners), practitioners)},
		}, nil)
		if hasWeakness(out.obs, event.WeakCleartextPHI, event.AboutSrc) {
			t.Error("practitioner directory flagged as PHI")
		}
		r := responses(out.obs)[0]
		if r.FHIR == nil || len(r.FHIR.Body) != 2 || r.FHIR.Body[1] != "Practitioner" {
			t.Errorf("FHIR = %+v", r.FHIR)
		}
	})

	t.Run("upload", func(t *testing.T) {
		_, out := play(t, nil, []step{
			{c2s, fmt.Sprintf("POST /fhir HTTP/1.1\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\n\r\n%s", len(patient), patient)},
			{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		}, nil)
		r := requests(out.obs)[0]
		if r.FHIR == nil || r.FHIR.Operation != "transaction" {
			t.Errorf("FHIR = %+v", r.FHIR)
		}
		if !hasWeakness(out.obs[:1], event.WeakCleartextPHI, event.AboutSrc) {
			t.Error("upload of a patient bundle not flagged on the client")
		}
	})
}

func TestOSAndHost(t *testing.T) {
	for _, tc := range []struct{ ua, os string }{
		{"Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", "Windows 7"},
		{"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", "Windows XP"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Windows 10/11"},
		{"Mozilla/4.0 (compatible; MSIE 4.01; Windows CE; PPC; 240x320)", "Windows CE"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_8_5) AppleWebKit/537.36", "macOS 10.8.5"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "Linux"},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0)", "Ubuntu"},
		{"Mozilla/5.0 (Linux; Android 11; SM-T500)", "Android 11"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 14_2 like Mac OS X)", "iOS 14.2"},
		{"curl/7.88.1", ""},
		{"CUPS/1.3.4", ""},
	} {
		if got := osFromUserAgent([]byte(tc.ua)); got != tc.os {
			t.Errorf("UA %q: %q, want %q", tc.ua, got, tc.os)
		}
	}
	for _, tc := range []struct{ server, os string }{
		{"Apache/2.4.41 (Ubuntu)", "Ubuntu"},
		{"Apache/2.2.15 (CentOS)", "CentOS"},
		{"Apache/2.4.6 (Red Hat Enterprise Linux)", "Red Hat Enterprise Linux"},
		{"Microsoft-IIS/7.5", "Windows Server 2008 R2"},
		{"Microsoft-IIS/10.0", "Windows Server 2016 or later"},
		{"Microsoft-HTTPAPI/2.0", "Windows"},
		{"Apache/2.2.8 (Win32) PHP/5.2.6", "Windows"},
		{"Apache", ""},
		{"nginx/1.18.0", ""},
		{"Virata-EmWeb/R6_2_1", ""},
		{"UbuntuServer/1.0", ""},
	} {
		if got := osFromServer([]byte(tc.server)); got != tc.os {
			t.Errorf("Server %q: %q, want %q", tc.server, got, tc.os)
		}
	}
	for _, tc := range []struct{ host, name string }{
		{"browserspy.dk", "browserspy.dk"},
		{"PACS.Hospital.local:8080", "pacs.hospital.local"},
		{"10.77.0.50", ""},
		{"10.77.0.50:80", ""},
		{"[2001:db8::1]:80", ""},
		{"localhost:8080", ""},
		{"bad host", ""},
		{"go.microsoft.com.", "go.microsoft.com"},
		{"host:abc", ""},
	} {
		if got := hostName([]byte(tc.host)); got != tc.name {
			t.Errorf("Host %q: %q, want %q", tc.host, got, tc.name)
		}
	}
}
