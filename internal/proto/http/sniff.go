package httpproto

import "bytes"

// sniffSize is how much of a body is looked at for a FHIR resourceType:
// enough for the type of a resource, a Bundle's type and the first
// entries, small enough to copy per message without buffering bodies.
const sniffSize = 4 << 10

// maxInner bounds the distinct nested resource types reported.
const maxInner = 8

// bodyInfo is what the first bytes of a body say about FHIR content.
type bodyInfo struct {
	top        string // resourceType of the document, "" if not FHIR
	bundleType string // Bundle.type when top is Bundle
	inner      [maxInner]string
	nInner     int
}

func (b *bodyInfo) addInner(t string) {
	for i := 0; i < b.nInner; i++ {
		if b.inner[i] == t {
			return
		}
	}
	if b.nInner < maxInner {
		b.inner[b.nInner] = t
		b.nInner++
	}
}

// types returns the document type followed by the nested types.
func (b *bodyInfo) types() []string {
	out := make([]string, 0, 1+b.nInner)
	if b.top != "" {
		out = append(out, b.top)
	}
	for i := 0; i < b.nInner; i++ {
		if b.inner[i] != b.top {
			out = append(out, b.inner[i])
		}
	}
	return out
}

// bundleTypes are the R4 Bundle.type codes.
var bundleTypes = map[string]string{
	"document": "document", "message": "message", "transaction": "transaction",
	"transaction-response": "transaction-response", "batch": "batch",
	"batch-response": "batch-response", "history": "history",
	"searchset": "searchset", "collection": "collection",
}

// sniffBody reads the FHIR resource types from the start of a JSON or XML
// body, which may be cut anywhere. It never looks at values other than
// resourceType and Bundle.type.
func sniffBody(b []byte) bodyInfo {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	if i == len(b) {
		return bodyInfo{}
	}
	switch b[i] {
	case '{':
		return sniffJSON(b[i:])
	case '<':
		return sniffXML(b[i:])
	}
	return bodyInfo{}
}

// sniffJSON is a small tokenizer: it tracks nesting and which key a string
// value belongs to, so that "resourceType" inside a narrative string or a
// note does not count.
func sniffJSON(b []byte) bodyInfo {
	var info bodyInfo
	var key []byte
	haveKey := false
	depth := 0
	topBundleType := ""
	for i := 0; i < len(b); {
		switch c := b[i]; c {
		case '{', '[':
			depth++
			haveKey = false
		case '}', ']':
			depth--
			haveKey = false
			if depth <= 0 {
				i = len(b)
				continue
			}
		case ',':
			haveKey = false
		case '"':
			s, next, ok := jsonString(b, i)
			if !ok {
				i = len(b)
				continue
			}
			j := next
			for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n') {
				j++
			}
			if j < len(b) && b[j] == ':' {
				key, haveKey = s, true
				i = j + 1
				continue
			}
			if haveKey {
				switch string(key) {
				case "resourceType":
					if t := resourceType(s); t != "" {
						if depth == 1 {
							info.top = t
						} else {
							info.addInner(t)
						}
					}
				case "type":
					if depth == 1 {
						topBundleType = bundleTypes[string(s)]
					}
				}
				haveKey = false
			}
			i = next
			continue
		}
		i++
	}
	if info.top == "Bundle" {
		info.bundleType = topBundleType
	}
	if info.top == "" {
		// Without a document type this is not a FHIR resource: nested
		// matches alone are too weak (and the document type comes first
		// in every serialiser heir knows).
		return bodyInfo{}
	}
	return info
}

// jsonString returns the raw contents of the string starting at b[i] (a
// quote) and the index after its closing quote.
func jsonString(b []byte, i int) ([]byte, int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return b[i+1 : j], j + 1, true
		}
	}
	return nil, len(b), false
}

// sniffXML reads the root element of a FHIR XML document (which must be
// in the http://hl7.org/fhir namespace), Bundle.type and the first element
// inside each <resource>.
func sniffXML(b []byte) bodyInfo {
	var info bodyInfo
	i := 0
	// prolog: declarations, comments, doctype, whitespace.
	for steps := 0; steps < 16; steps++ {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
			i++
		}
		if i+1 >= len(b) || b[i] != '<' {
			return bodyInfo{}
		}
		var end int
		switch {
		case b[i+1] == '?':
			end = indexFrom(b, i, "?>")
		case bytes.HasPrefix(b[i:], []byte("<!--")):
			end = indexFrom(b, i, "-->")
		case b[i+1] == '!':
			end = indexFrom(b, i, ">")
		default:
			end = -2
		}
		if end == -2 {
			break
		}
		if end < 0 {
			return bodyInfo{}
		}
		i = end
	}
	name, tagEnd := xmlElement(b, i)
	if name == nil || tagEnd < 0 || !bytes.Contains(b[i:tagEnd], []byte("http://hl7.org/fhir")) {
		return bodyInfo{}
	}
	info.top = resourceType(name)
	if info.top == "" {
		return bodyInfo{}
	}
	rest := b[tagEnd:]
	if info.top == "Bundle" {
		if k := bytes.Index(rest, []byte("<type value=\"")); k >= 0 {
			v := rest[k+len(`<type value="`):]
			if e := bytes.IndexByte(v, '"'); e >= 0 {
				info.bundleType = bundleTypes[string(v[:e])]
			}
		}
	}
	for n := 0; n < 256; n++ {
		k := bytes.Index(rest, []byte("<resource>"))
		if k < 0 {
			break
		}
		rest = rest[k+len("<resource>"):]
		j := bytes.IndexByte(rest, '<')
		if j < 0 {
			break
		}
		if name, _ := xmlElement(rest, j); name != nil {
			if t := resourceType(name); t != "" {
				info.addInner(t)
			}
		}
		rest = rest[j:]
	}
	return info
}

// indexFrom returns the index just after the first sep at or after i, or -1.
func indexFrom(b []byte, i int, sep string) int {
	k := bytes.Index(b[i:], []byte(sep))
	if k < 0 {
		return -1
	}
	return i + k + len(sep)
}

// xmlElement returns the local name of the element whose tag starts at
// b[i] ('<') and the index after the tag's '>' (-1 when cut off).
func xmlElement(b []byte, i int) ([]byte, int) {
	if i >= len(b) || b[i] != '<' {
		return nil, -1
	}
	j := i + 1
	for j < len(b) && b[j] != ' ' && b[j] != '>' && b[j] != '/' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
		j++
	}
	name := b[i+1 : j]
	if k := bytes.LastIndexByte(name, ':'); k >= 0 {
		name = name[k+1:]
	}
	if len(name) == 0 {
		return nil, -1
	}
	end := bytes.IndexByte(b[j:], '>')
	if end < 0 {
		return name, -1
	}
	return name, j + end + 1
}
