package vuln

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

//go:embed aliases.json
var defaultAliases []byte

// AliasFile is the form of aliases.json: canonical vendor keys with the
// names they go by, and per-vendor product keys with theirs.
type AliasFile struct {
	Version  int            `json:"version"`
	Comment  string         `json:"comment,omitempty"`
	Vendors  []VendorAlias  `json:"vendors"`
	Products []ProductAlias `json:"products"`
}

// VendorAlias maps names to one vendor key.
type VendorAlias struct {
	Key   string   `json:"key"`
	Names []string `json:"names"`
}

// ProductAlias maps names to one product key of a vendor.
type ProductAlias struct {
	Vendor string   `json:"vendor"`
	Key    string   `json:"key"`
	Names  []string `json:"names"`
}

// Normaliser turns vendor and product names into the keys the index and
// matching use. It is immutable once built and safe for concurrent use.
type Normaliser struct {
	vendors  map[string]string            // normalised name → vendor key
	products map[string]map[string]string // vendor key → normalised name → product key
	// vendorWords holds, per vendor key, the normalised names that a
	// product name may start with ("bd alaris pc unit" → "alaris pc unit").
	vendorWords map[string][]string
}

// DefaultNormaliser uses the alias table shipped with heir
// (internal/vuln/aliases.json).
func DefaultNormaliser() *Normaliser {
	n, err := ParseAliases(strings.NewReader(string(defaultAliases)))
	if err != nil {
		panic(fmt.Sprintf("embedded aliases.json: %v", err)) // caught by tests
	}
	return n
}

// ParseAliases reads an alias file; extra files can be merged with Merge.
func ParseAliases(r io.Reader) (*Normaliser, error) {
	var f AliasFile
	dec := json.NewDecoder(io.LimitReader(r, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("read alias file: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("alias file version %d, want 1", f.Version)
	}
	n := &Normaliser{vendors: map[string]string{}, products: map[string]map[string]string{}, vendorWords: map[string][]string{}}
	return n, n.add(f)
}

// Merge adds the aliases of another file (a site's own spellings).
func (n *Normaliser) Merge(r io.Reader) error {
	var f AliasFile
	dec := json.NewDecoder(io.LimitReader(r, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("read alias file: %w", err)
	}
	return n.add(f)
}

func (n *Normaliser) add(f AliasFile) error {
	for i, v := range f.Vendors {
		if v.Key == "" || len(v.Names) == 0 {
			return fmt.Errorf("vendor alias %d: key and names are required", i)
		}
		key := v.Key
		for _, name := range append([]string{key}, v.Names...) {
			nn := normalise(name)
			if nn == "" {
				continue
			}
			if prev, ok := n.vendors[nn]; ok && prev != key {
				return fmt.Errorf("vendor name %q is an alias of both %s and %s", name, prev, key)
			}
			n.vendors[nn] = key
			n.vendorWords[key] = appendUnique(n.vendorWords[key], strings.ReplaceAll(nn, "_", " "))
		}
	}
	for i, p := range f.Products {
		if p.Vendor == "" || p.Key == "" {
			return fmt.Errorf("product alias %d: vendor and key are required", i)
		}
		m := n.products[p.Vendor]
		if m == nil {
			m = map[string]string{}
			n.products[p.Vendor] = m
		}
		for _, name := range append([]string{p.Key}, p.Names...) {
			if nn := normalise(name); nn != "" {
				m[nn] = p.Key
			}
		}
	}
	return nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// companyWords are legal-form words dropped from vendor names.
var companyWords = map[string]bool{
	"inc": true, "incorporated": true, "corp": true, "corporation": true, "co": true, "company": true,
	"ltd": true, "limited": true, "llc": true, "gmbh": true, "ag": true, "plc": true, "nv": true,
	"bv": true, "sa": true, "se": true, "spa": true, "kg": true, "kgaa": true, "oy": true, "ab": true,
	"as": true, "pty": true, "srl": true, "sarl": true,
}

// maxNameLen bounds the names normalised: longer text is cut.
const maxNameLen = 256

// normalise lower-cases, folds accents (Dräger → drager), drops bracketed
// remarks and every character but letters and digits, and joins the words
// with "_". Legal-form words at the end of a name are dropped.
func normalise(s string) string {
	if len(s) > maxNameLen {
		s = s[:maxNameLen]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	s = stripBrackets(s)
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, r): // combining accents
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9'):
			b.WriteRune(r)
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	// "B. V." and "N. V." come out as single letters: join them first.
	for len(words) > 1 && companyWords[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	if len(words) > 1 && len(words[len(words)-1]) == 1 && len(words[len(words)-2]) == 1 &&
		companyWords[words[len(words)-2]+words[len(words)-1]] {
		words = words[:len(words)-2]
	}
	return strings.Join(words, "_")
}

// stripBrackets removes "(…)" and "[…]" remarks: "General Electric (GE)".
func stripBrackets(s string) string {
	if !strings.ContainsAny(s, "([") {
		return s
	}
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch r {
		case '(', '[':
			depth++
			continue
		case ')', ']':
			if depth > 0 {
				depth--
				continue
			}
		}
		if depth == 0 {
			b.WriteRune(r)
		}
	}
	out := strings.TrimSpace(b.String())
	if out == "" { // the whole name was a remark: keep its text
		return strings.Trim(s, "()[] ")
	}
	return out
}

// Vendor returns the vendor key of a name: the alias table's key, or the
// normalised name itself. Names listing several vendors ("Silex Technology
// and GE Healthcare") are not split here; see VendorKeys.
func (n *Normaliser) Vendor(name string) string {
	nn := normalise(name)
	if k, ok := n.vendors[nn]; ok {
		return k
	}
	return nn
}

// VendorKeys returns the vendor keys of a name that may list several
// vendors ("ENEA, Green Hills Software, ITRON, IP Infusion, and Wind
// River"): the whole name when it is a known alias, else each part split
// at commas and "and" when at least one part is a known vendor.
func (n *Normaliser) VendorKeys(name string) []string {
	nn := normalise(name)
	if k, ok := n.vendors[nn]; ok {
		return []string{k}
	}
	parts := splitVendors(name)
	if len(parts) > 1 {
		var keys []string
		known := false
		for _, p := range parts {
			pk := normalise(p)
			if pk == "" {
				continue
			}
			if k, ok := n.vendors[pk]; ok {
				pk, known = k, true
			}
			keys = appendUnique(keys, pk)
		}
		if known {
			return keys
		}
	}
	if nn == "" {
		return nil
	}
	return []string{nn}
}

func splitVendors(s string) []string {
	s = stripBrackets(s)
	s = strings.NewReplacer(" and ", ",", " & ", ",", ";", ",").Replace(s)
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// fillerWords are dropped from product names: they say nothing about
// which product it is.
var fillerWords = map[string]bool{"the": true, "model": true, "models": true}

// Product returns the product key of a name for a vendor key: the alias
// table's key, or the normalised name without the vendor's own name in
// front ("BD Alaris PC Unit Model 8015" → "alaris_pc_unit_8015") and
// without filler words.
func (n *Normaliser) Product(vendorKey, name string) string {
	nn := normalise(name)
	if k, ok := n.products[vendorKey][nn]; ok {
		return k
	}
	words := strings.Split(nn, "_")
	spaced := strings.ReplaceAll(nn, "_", " ")
	for _, vw := range n.vendorWords[vendorKey] {
		if strings.HasPrefix(spaced, vw+" ") {
			words = strings.Fields(spaced[len(vw):])
			break
		}
	}
	if len(n.vendorWords[vendorKey]) == 0 {
		vw := strings.ReplaceAll(vendorKey, "_", " ")
		if vw != "" && strings.HasPrefix(spaced, vw+" ") {
			words = strings.Fields(spaced[len(vw):])
		}
	}
	out := words[:0:0]
	for _, w := range words {
		if !fillerWords[w] {
			out = append(out, w)
		}
	}
	key := strings.Join(out, "_")
	if k, ok := n.products[vendorKey][key]; ok {
		return k
	}
	if key == "" {
		return nn
	}
	return key
}

// ModelKey is the key decisions and SBOMs use for a device model:
// "<vendor key>/<product key>".
func (n *Normaliser) ModelKey(vendor, model string) string {
	vk := n.Vendor(vendor)
	return vk + "/" + n.Product(vk, model)
}
