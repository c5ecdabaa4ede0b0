// Package version reads and compares the version strings of advisories,
// NVD configurations and device inventories: semantic versions (1.4.0-rc1),
// vendor firmware strings (V2.3.1 SP4, 4.2.1 Build 1234, R2.4, A.03.09,
// 10.0.19041) and the free-text version rules of CSAF advisories
// ("<= 3.2", ">= 4.0 | <= 4.6", "V2.3.1 SP4 and prior", "12.x",
// "all versions", vers: URIs).
//
// There is no single true order of vendor version strings; the one here is
// documented in docs/vulnerabilities.md and chosen so that the forms seen in
// medical-device advisories compare as their authors meant. It depends on
// nothing but the standard library.
package version

import (
	"strings"
)

// MaxLen bounds the text read as one version; longer input is cut, so a
// hostile inventory cannot make comparisons expensive.
const MaxLen = 128

// maxSegs bounds the segments of one version for the same reason.
const maxSegs = 24

// Version is a parsed version string. The zero Version is empty (unknown).
type Version struct {
	raw  string
	segs []seg
}

// seg is one run of digits or letters. Separators (. - _ + space …) only
// split runs.
type seg struct {
	num   uint64
	str   string // lower case; empty for numbers
	isNum bool
}

// Parse reads a version string. It never fails: text without digits or
// letters gives an empty Version.
func Parse(s string) Version {
	s = strings.TrimSpace(s)
	if len(s) > MaxLen {
		s = s[:MaxLen]
	}
	v := Version{raw: s}
	low := strings.ToLower(s)
	low = stripPrefix(low)
	var words []seg
	for i := 0; i < len(low) && len(words) < maxSegs; {
		c := low[i]
		switch {
		case isDigit(c):
			j := i
			var n uint64
			for j < len(low) && isDigit(low[j]) {
				if n < 1e17 { // saturate: longer digit runs compare as equal-large
					n = n*10 + uint64(low[j]-'0')
				}
				j++
			}
			words = append(words, seg{num: n, isNum: true})
			i = j
		case isLetter(c):
			j := i
			for j < len(low) && isLetter(low[j]) {
				j++
			}
			words = append(words, seg{str: low[i:j]})
			i = j
		default:
			i++
		}
	}
	v.segs = normaliseWords(words)
	return v
}

// stripPrefix drops a leading "version", "ver", "v", "rev", "r" or
// "release" when a digit follows: V2.3.1, R2.4, Rev 3 and Version 8.2.2
// are the versions 2.3.1, 2.4, 3 and 8.2.2.
func stripPrefix(s string) string {
	for _, p := range []string{"version", "release", "ver.", "ver", "rev.", "rev", "v", "r"} {
		if strings.HasPrefix(s, p) {
			rest := strings.TrimLeft(s[len(p):], " .")
			if rest != "" && isDigit(rest[0]) {
				return rest
			}
		}
	}
	return s
}

// normaliseWords folds spellings of the same qualifier: "service pack" and
// "servicepack" are "sp"; "build" is dropped because a build number is
// simply the next, finer number (4.2.1 Build 1234 = 4.2.1.1234).
func normaliseWords(in []seg) []seg {
	out := in[:0:0]
	for i := 0; i < len(in); i++ {
		s := in[i]
		if !s.isNum {
			switch s.str {
			case "build":
				continue
			case "service":
				if i+1 < len(in) && !in[i+1].isNum && in[i+1].str == "pack" {
					i++
				}
				s.str = "sp"
			case "servicepack":
				s.str = "sp"
			}
		}
		out = append(out, s)
	}
	return out
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' }

// String returns the text the version was parsed from.
func (v Version) String() string { return v.raw }

// IsZero says whether the version is empty (nothing known).
func (v Version) IsZero() bool { return len(v.segs) == 0 }

// HasDigit says whether the version holds a number: text without one
// ("K", "N", "BT") is a vendor letter revision, compared as text.
func (v Version) HasDigit() bool {
	for _, s := range v.segs {
		if s.isNum {
			return true
		}
	}
	return false
}

// preRank orders pre-release words below the release itself; 0 means the
// word is not a pre-release marker (it is a post-release qualifier such as
// sp, patch, update, or a vendor letter).
func preRank(s string) int {
	switch s {
	case "dev", "snapshot":
		return -5
	case "alpha":
		return -4
	case "beta":
		return -3
	case "pre", "preview":
		return -2
	case "rc":
		return -1
	}
	return 0
}

// Compare returns -1, 0 or +1 as a is older than, the same as, or newer
// than b. Segments compare pairwise: numbers numerically, words
// alphabetically; at one position pre-release words (dev < alpha < beta <
// pre < rc) sort before numbers and other words (sp, patch, vendor letters)
// after them. A missing segment counts as the number 0, so trailing zeros
// do not count (1.0 = 1.0.0), a trailing qualifier makes a version newer
// (2.3.1 SP4 > 2.3.1) and a pre-release word older (1.0-rc1 < 1.0). This
// is a total order: lexicographic over segments padded with zeros.
func Compare(a, b Version) int {
	n := min(len(a.segs), len(b.segs))
	for i := 0; i < n; i++ {
		if c := cmpSeg(a.segs[i], b.segs[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a.segs) > n:
		return tail(a.segs[n:])
	case len(b.segs) > n:
		return -tail(b.segs[n:])
	}
	return 0
}

// tail says how a version with extra segments compares with one that
// ended: zeros are nothing, a pre-release word makes it older, anything
// else newer.
func tail(rest []seg) int {
	for _, s := range rest {
		if s.isNum {
			if s.num == 0 {
				continue
			}
			return 1
		}
		if preRank(s.str) < 0 {
			return -1
		}
		return 1
	}
	return 0
}

func cmpSeg(a, b seg) int {
	ka, kb := segClass(a), segClass(b)
	if ka != kb {
		if ka < kb {
			return -1
		}
		return 1
	}
	switch ka {
	case classNum:
		switch {
		case a.num < b.num:
			return -1
		case a.num > b.num:
			return 1
		}
		return 0
	case classPre:
		ra, rb := preRank(a.str), preRank(b.str)
		if ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(a.str, b.str)
}

// Segment classes in their order at one position: pre-release words,
// numbers (a missing segment counts as the number 0), other words.
const (
	classPre = iota
	classNum
	classWord
)

func segClass(s seg) int {
	switch {
	case s.isNum:
		return classNum
	case preRank(s.str) < 0:
		return classPre
	}
	return classWord
}

// HasPrefix says whether the first segments of v are those of p: 12.2.5 has
// the prefix 12.2 (what "12.2.x" means).
func (v Version) HasPrefix(p Version) bool {
	if len(p.segs) > len(v.segs) {
		// 12 has the prefix 12.0 only through trailing zeros.
		for _, s := range p.segs[len(v.segs):] {
			if !s.isNum || s.num != 0 {
				return false
			}
		}
		for i := range v.segs {
			if cmpSeg(v.segs[i], p.segs[i]) != 0 {
				return false
			}
		}
		return true
	}
	for i := range p.segs {
		if cmpSeg(v.segs[i], p.segs[i]) != 0 {
			return false
		}
	}
	return true
}
