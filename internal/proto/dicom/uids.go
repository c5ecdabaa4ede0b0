package dicom

// uidNames names the SOP classes, transfer syntaxes and application
// context an analyst meets on hospital networks. The table also interns
// UIDs: a known UID is returned as the table's own string, so decoding a
// busy association does not allocate one string per message.
var uidNames = map[string]string{
	// Application context (PS3.7 A.2.1).
	"1.2.840.10008.3.1.1.1": "DICOM Application Context",

	// Transfer syntaxes (PS3.6 Annex A).
	uidImplicitLE:             "Implicit VR Little Endian",
	uidExplicitLE:             "Explicit VR Little Endian",
	uidDeflatedLE:             "Deflated Explicit VR Little Endian",
	uidExplicitBE:             "Explicit VR Big Endian",
	"1.2.840.10008.1.2.4.50":  "JPEG Baseline",
	"1.2.840.10008.1.2.4.51":  "JPEG Extended",
	"1.2.840.10008.1.2.4.57":  "JPEG Lossless",
	"1.2.840.10008.1.2.4.70":  "JPEG Lossless SV1",
	"1.2.840.10008.1.2.4.80":  "JPEG-LS Lossless",
	"1.2.840.10008.1.2.4.81":  "JPEG-LS Near-Lossless",
	"1.2.840.10008.1.2.4.90":  "JPEG 2000 Lossless",
	"1.2.840.10008.1.2.4.91":  "JPEG 2000",
	"1.2.840.10008.1.2.4.100": "MPEG2 Main Profile",
	"1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264",
	"1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
	"1.2.840.10008.1.2.4.203": "HTJ2K",
	"1.2.840.10008.1.2.5":     "RLE Lossless",

	// Verification and services.
	uidVerification:              "Verification",
	"1.2.840.10008.1.20.1":       "Storage Commitment Push Model",
	"1.2.840.10008.3.1.2.3.3":    "Modality Performed Procedure Step",
	"1.2.840.10008.5.1.1.9":      "Basic Grayscale Print Management Meta",
	"1.2.840.10008.5.1.1.18":     "Basic Color Print Management Meta",
	"1.2.840.10008.5.1.4.33":     "Instance Availability Notification",
	"1.2.840.10008.5.1.4.34.6.1": "Unified Procedure Step - Push",
	"1.2.840.10008.5.1.4.34.6.3": "Unified Procedure Step - Pull",

	// Query/retrieve and worklists.
	"1.2.840.10008.5.1.4.1.2.1.1": "Patient Root Query/Retrieve - FIND",
	"1.2.840.10008.5.1.4.1.2.1.2": "Patient Root Query/Retrieve - MOVE",
	"1.2.840.10008.5.1.4.1.2.1.3": "Patient Root Query/Retrieve - GET",
	"1.2.840.10008.5.1.4.1.2.2.1": "Study Root Query/Retrieve - FIND",
	"1.2.840.10008.5.1.4.1.2.2.2": "Study Root Query/Retrieve - MOVE",
	"1.2.840.10008.5.1.4.1.2.2.3": "Study Root Query/Retrieve - GET",
	"1.2.840.10008.5.1.4.1.2.3.1": "Patient/Study Only Query/Retrieve - FIND",
	"1.2.840.10008.5.1.4.1.2.3.2": "Patient/Study Only Query/Retrieve - MOVE",
	"1.2.840.10008.5.1.4.1.2.3.3": "Patient/Study Only Query/Retrieve - GET",
	"1.2.840.10008.5.1.4.1.2.4.2": "Composite Instance Root Retrieve - MOVE",
	"1.2.840.10008.5.1.4.1.2.4.3": "Composite Instance Root Retrieve - GET",
	"1.2.840.10008.5.1.4.31":      "Modality Worklist - FIND",

	// Storage.
	"1.2.840.10008.5.1.4.1.1.1":        "Computed Radiography Image Storage",
	"1.2.840.10008.5.1.4.1.1.1.1":      "Digital X-Ray Image Storage - For Presentation",
	"1.2.840.10008.5.1.4.1.1.1.1.1":    "Digital X-Ray Image Storage - For Processing",
	"1.2.840.10008.5.1.4.1.1.1.2":      "Digital Mammography X-Ray Image Storage - For Presentation",
	"1.2.840.10008.5.1.4.1.1.1.2.1":    "Digital Mammography X-Ray Image Storage - For Processing",
	"1.2.840.10008.5.1.4.1.1.1.3":      "Digital Intra-Oral X-Ray Image Storage - For Presentation",
	"1.2.840.10008.5.1.4.1.1.2":        "CT Image Storage",
	"1.2.840.10008.5.1.4.1.1.2.1":      "Enhanced CT Image Storage",
	"1.2.840.10008.5.1.4.1.1.3.1":      "Ultrasound Multi-frame Image Storage",
	"1.2.840.10008.5.1.4.1.1.4":        "MR Image Storage",
	"1.2.840.10008.5.1.4.1.1.4.1":      "Enhanced MR Image Storage",
	"1.2.840.10008.5.1.4.1.1.6.1":      "Ultrasound Image Storage",
	"1.2.840.10008.5.1.4.1.1.7":        "Secondary Capture Image Storage",
	"1.2.840.10008.5.1.4.1.1.7.1":      "Multi-frame Single Bit Secondary Capture Image Storage",
	"1.2.840.10008.5.1.4.1.1.7.2":      "Multi-frame Grayscale Byte Secondary Capture Image Storage",
	"1.2.840.10008.5.1.4.1.1.7.3":      "Multi-frame Grayscale Word Secondary Capture Image Storage",
	"1.2.840.10008.5.1.4.1.1.7.4":      "Multi-frame True Color Secondary Capture Image Storage",
	"1.2.840.10008.5.1.4.1.1.9.1.1":    "12-lead ECG Waveform Storage",
	"1.2.840.10008.5.1.4.1.1.9.1.2":    "General ECG Waveform Storage",
	"1.2.840.10008.5.1.4.1.1.11.1":     "Grayscale Softcopy Presentation State Storage",
	"1.2.840.10008.5.1.4.1.1.12.1":     "X-Ray Angiographic Image Storage",
	"1.2.840.10008.5.1.4.1.1.12.2":     "X-Ray Radiofluoroscopic Image Storage",
	"1.2.840.10008.5.1.4.1.1.13.1.3":   "Breast Tomosynthesis Image Storage",
	"1.2.840.10008.5.1.4.1.1.20":       "Nuclear Medicine Image Storage",
	"1.2.840.10008.5.1.4.1.1.66":       "Raw Data Storage",
	"1.2.840.10008.5.1.4.1.1.66.1":     "Spatial Registration Storage",
	"1.2.840.10008.5.1.4.1.1.66.4":     "Segmentation Storage",
	"1.2.840.10008.5.1.4.1.1.77.1.1":   "VL Endoscopic Image Storage",
	"1.2.840.10008.5.1.4.1.1.77.1.4":   "VL Photographic Image Storage",
	"1.2.840.10008.5.1.4.1.1.77.1.5.1": "Ophthalmic Photography 8 Bit Image Storage",
	"1.2.840.10008.5.1.4.1.1.88.11":    "Basic Text SR Storage",
	"1.2.840.10008.5.1.4.1.1.88.22":    "Enhanced SR Storage",
	"1.2.840.10008.5.1.4.1.1.88.33":    "Comprehensive SR Storage",
	"1.2.840.10008.5.1.4.1.1.88.59":    "Key Object Selection Document Storage",
	"1.2.840.10008.5.1.4.1.1.104.1":    "Encapsulated PDF Storage",
	"1.2.840.10008.5.1.4.1.1.128":      "Positron Emission Tomography Image Storage",
	"1.2.840.10008.5.1.4.1.1.481.1":    "RT Image Storage",
	"1.2.840.10008.5.1.4.1.1.481.2":    "RT Dose Storage",
	"1.2.840.10008.5.1.4.1.1.481.3":    "RT Structure Set Storage",
	"1.2.840.10008.5.1.4.1.1.481.5":    "RT Plan Storage",
}

const (
	uidVerification = "1.2.840.10008.1.1"
	uidImplicitLE   = "1.2.840.10008.1.2"
	uidExplicitLE   = "1.2.840.10008.1.2.1"
	uidDeflatedLE   = "1.2.840.10008.1.2.1.99"
	uidExplicitBE   = "1.2.840.10008.1.2.2"
)

// maxUID bounds UIDs (64 characters by PS3.5 9.1) and other identifiers
// kept from the wire; longer values are cut.
const maxUID = 64

// UIDName returns the name of a well-known UID, or "" when it is not in the
// table.
func UIDName(uid string) string { return uidNames[uid] }

// uidString turns a UID field into a string: the table's copy when the UID
// is known (no allocation), otherwise a bounded, sanitised copy.
func uidString(b []byte) string {
	b = trimValue(b)
	if len(b) == 0 {
		return ""
	}
	if len(b) <= maxUID {
		// The map lookup with a converted key does not allocate.
		if s, ok := uidIntern[string(b)]; ok {
			return s
		}
	}
	return sanitize(b, maxUID)
}

// uidIntern maps each known UID to itself so that lookups hand out the
// table's string instead of a fresh copy.
var uidIntern = func() map[string]string {
	m := make(map[string]string, len(uidNames))
	for k := range uidNames {
		m[k] = k
	}
	return m
}()

// trimValue strips the padding DICOM puts around string values: trailing
// NULs and spaces, and leading spaces.
func trimValue(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == 0 || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == 0) {
		b = b[1:]
	}
	return b
}

// sanitize copies at most max bytes of b into a string, replacing bytes
// outside printable ASCII with '?' so that hostile input cannot smuggle
// control characters or invalid UTF-8 into events.
func sanitize(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
	}
	clean := true
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}
