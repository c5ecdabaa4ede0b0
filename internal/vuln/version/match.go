package version

import "strings"

// Verdict is the answer to "is this version in the range?".
type Verdict int8

// Verdicts: In and Out are sure; Unknown means the range could not be read
// or the version is not known, so only the product matched.
const (
	Unknown Verdict = iota
	In
	Out
)

func (v Verdict) String() string {
	switch v {
	case In:
		return "in"
	case Out:
		return "out"
	}
	return "unknown"
}

// Set is a compiled Range: its versions parsed once, for matching many
// devices against it.
type Set struct {
	all      bool
	unparsed bool
	ivs      []cinterval
}

type cinterval struct {
	exact, prefix Version
	hasExact      bool
	hasPrefix     bool
	lo, hi        Version
	hasLo, hasHi  bool
	loIncl        bool
	hiIncl        bool
	// A bound written "12.2.x" means the whole 12.2 line: hiLine includes
	// every version with that prefix, loLine every one from it on.
	hiLine, loLine bool
}

// Compile parses the versions of a Range.
func (r Range) Compile() Set {
	s := Set{all: r.All, unparsed: r.Unparsed != ""}
	for _, iv := range r.Intervals {
		c := cinterval{loIncl: iv.LoIncl, hiIncl: iv.HiIncl}
		if iv.Exact != "" {
			c.exact, c.hasExact = Parse(iv.Exact), true
		}
		if iv.Prefix != "" {
			c.prefix, c.hasPrefix = Parse(iv.Prefix), true
		}
		if iv.Lo != "" {
			lo, line := bound(iv.Lo)
			c.lo, c.hasLo, c.loLine = lo, true, line
		}
		if iv.Hi != "" {
			hi, line := bound(iv.Hi)
			c.hi, c.hasHi, c.hiLine = hi, true, line
		}
		s.ivs = append(s.ivs, c)
	}
	if len(s.ivs) == 0 && !s.all {
		s.unparsed = true
	}
	return s
}

func bound(s string) (Version, bool) {
	if strings.HasSuffix(s, ".x") {
		return Parse(strings.TrimSuffix(s, ".x")), true
	}
	return Parse(s), false
}

// All says whether the set holds every version.
func (s Set) All() bool { return s.all }

// Readable says whether the range was read as constraints.
func (s Set) Readable() bool { return !s.unparsed }

// Contains says whether v is in the set: Unknown when the range was not
// readable or v is empty (and the range is not every version).
func (s Set) Contains(v Version) Verdict {
	if s.all {
		return In
	}
	if s.unparsed || v.IsZero() {
		return Unknown
	}
	for i := range s.ivs {
		if s.ivs[i].contains(v) {
			return In
		}
	}
	return Out
}

func (c *cinterval) contains(v Version) bool {
	if c.hasExact {
		return Compare(v, c.exact) == 0
	}
	if c.hasPrefix {
		return v.HasPrefix(c.prefix)
	}
	if c.hasLo {
		if c.loLine {
			if Compare(v, c.lo) < 0 && !v.HasPrefix(c.lo) {
				return false
			}
		} else {
			d := Compare(v, c.lo)
			if d < 0 || (d == 0 && !c.loIncl) {
				return false
			}
		}
	}
	if c.hasHi {
		if c.hiLine {
			if Compare(v, c.hi) > 0 && !v.HasPrefix(c.hi) {
				return false
			}
		} else {
			d := Compare(v, c.hi)
			if d > 0 || (d == 0 && !c.hiIncl) {
				return false
			}
		}
	}
	return true
}
