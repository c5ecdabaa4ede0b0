package mqtt

import "bytes"

// maxPHIKeys bounds the keys reported for one payload.
const maxPHIKeys = 8

// phiKeys scans the first bytes of a payload for keys that name patient
// data — JSON object keys ("patient_mrn": …) and key=value or key: value
// pairs — and returns how many it put in out. It reports the matching rule
// (a listed key, or "patient*" / "*birth*" for keys containing those
// words), never a raw key, which a sender could have built from a value.
// An HL7 v2 message carrying a PID segment counts too ("hl7:PID").
func phiKeys(p []byte, out *[maxPHIKeys]string) int {
	n := 0
	add := func(k string) {
		for _, x := range out[:n] {
			if x == k {
				return
			}
		}
		if n < len(out) {
			out[n] = k
			n++
		}
	}
	if len(p) > 4 && string(p[:3]) == "MSH" && p[3] > ' ' && p[3] < 0x7f {
		if bytes.Contains(p, []byte{'\r', 'P', 'I', 'D', p[3]}) {
			add("hl7:PID")
		}
		return n
	}
	for i := 0; i < len(p) && n < len(out); {
		c := p[i]
		switch {
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(p) && p[j] != c {
				if p[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(p) {
				return n
			}
			if followedBy(p, j+1, ':') {
				if k, ok := phiKey(p[i+1 : j]); ok {
					add(k)
				}
			}
			i = j + 1
		case isKeyChar(c):
			j := i
			for j < len(p) && isKeyChar(p[j]) {
				j++
			}
			if followedBy(p, j, '=') || followedBy(p, j, ':') {
				if k, ok := phiKey(p[i:j]); ok {
					add(k)
				}
			}
			i = j
		default:
			i++
		}
	}
	return n
}

func isKeyChar(c byte) bool {
	return c == '_' || c == '-' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// followedBy says whether p, after spaces from i on, continues with c.
func followedBy(p []byte, i int, c byte) bool {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t') {
		i++
	}
	return i < len(p) && p[i] == c
}

// phiKey says whether key names patient data, case-insensitively, with
// '-' and ' ' read as '_'. It returns the rule that matched.
func phiKey(key []byte) (string, bool) {
	var buf [40]byte
	if len(key) == 0 || len(key) > len(buf) {
		return "", false
	}
	for i, c := range key {
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '-' || c == ' ':
			c = '_'
		}
		buf[i] = c
	}
	k := buf[:len(key)]
	if w := listedKey(k); w != "" {
		return w, true
	}
	if bytes.Contains(k, []byte("patient")) {
		return "patient*", true
	}
	if bytes.Contains(k, []byte("birth")) {
		return "*birth*", true
	}
	return "", false
}

// listedKey returns k if it is one of the documented patient-identifying
// keys (lower case), else "".
func listedKey(k []byte) string {
	switch string(k) {
	case "patient":
		return "patient"
	case "patient_id":
		return "patient_id"
	case "patientid":
		return "patientid"
	case "patient_mrn":
		return "patient_mrn"
	case "patient_name":
		return "patient_name"
	case "patientname":
		return "patientname"
	case "mrn":
		return "mrn"
	case "medical_record_number":
		return "medical_record_number"
	case "name":
		return "name"
	case "full_name":
		return "full_name"
	case "first_name":
		return "first_name"
	case "firstname":
		return "firstname"
	case "last_name":
		return "last_name"
	case "lastname":
		return "lastname"
	case "given_name":
		return "given_name"
	case "family_name":
		return "family_name"
	case "surname":
		return "surname"
	case "dob":
		return "dob"
	case "ssn":
		return "ssn"
	case "nhs_number":
		return "nhs_number"
	case "address":
		return "address"
	case "phone":
		return "phone"
	}
	return ""
}

// clientSoftware names the client software a default client id reveals:
// libraries that generate ids with a fixed prefix when the application
// gives none. It returns "" for ids chosen by the application.
func clientSoftware(id []byte) string {
	switch {
	case bytes.HasPrefix(id, []byte("mosqpub|")), bytes.HasPrefix(id, []byte("mosqpub/")):
		return "mosquitto_pub"
	case bytes.HasPrefix(id, []byte("mosqsub|")), bytes.HasPrefix(id, []byte("mosqsub/")):
		return "mosquitto_sub"
	case bytes.HasPrefix(id, []byte("mosq-")), bytes.HasPrefix(id, []byte("mosq/")):
		return "libmosquitto"
	case bytes.HasPrefix(id, []byte("paho/")):
		return "Eclipse Paho (Python)"
	case len(id) > 8 && bytes.HasPrefix(id, []byte("paho")) && allDigits(id[4:]):
		return "Eclipse Paho (Java)"
	case bytes.HasPrefix(id, []byte("mqttjs_")):
		return "MQTT.js"
	case bytes.HasPrefix(id, []byte("mqttx_")):
		return "MQTTX"
	}
	return ""
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
