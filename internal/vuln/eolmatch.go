package vuln

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/vuln/version"
)

// eolRule says which endoflife.date product a name belongs to.
type eolRule struct {
	slug string
	re   *regexp.Regexp
	// byTokens: the cycle is found by the words of its label (Windows:
	// "7 SP1", "XP SP3", "10 22H2"); otherwise by the longest cycle that
	// is a prefix of the version in the text (6.18 for Linux 6.18.44).
	byTokens bool
}

// eolRules are tried in order; the first whose pattern matches names the
// product.
var eolRules = []eolRule{
	{slug: "windows-server", re: regexp.MustCompile(`\bwindows\s+server\b`), byTokens: true},
	{slug: "windows-embedded", re: regexp.MustCompile(`\bwindows\b.*\b(embedded|posready|compact|wes7|ce)\b`), byTokens: true},
	{slug: "windows", re: regexp.MustCompile(`\bwindows\b`), byTokens: true},
	{slug: "rhel", re: regexp.MustCompile(`\b(red\s*hat\s+enterprise\s+linux|rhel)\b`)},
	{slug: "ubuntu", re: regexp.MustCompile(`\bubuntu\b`)},
	{slug: "debian", re: regexp.MustCompile(`\bdebian\b`)},
	{slug: "android", re: regexp.MustCompile(`\bandroid\b`)},
	{slug: "ios", re: regexp.MustCompile(`\b(ios|iphone\s+os|ipados)\b`)},
	{slug: "macos", re: regexp.MustCompile(`\b(macos|mac\s+os(\s+x)?|os\s+x)\b`)},
	{slug: "openssl", re: regexp.MustCompile(`\bopenssl\b`)},
	{slug: "dotnetfx", re: regexp.MustCompile(`(\.net\s+framework|dotnetfx)`)},
	{slug: "linux-kernel", re: regexp.MustCompile(`\blinux\b`)},
}

var (
	reVersionWord = regexp.MustCompile(`\b\d+(?:\.\d+)*`)
	reServicePack = regexp.MustCompile(`service\s+pack\s+(\d)`)
	reBuild       = regexp.MustCompile(`\b(\d+\.\d+\.\d{4,5})\b`)
)

// EOLFor finds the release cycle a name ("Windows 7 Professional SP1",
// "Linux 6.18.44-fc", "OpenSSL 1.0.2k") belongs to, and whether it is past
// its end of life on asOf. ok is false when no product or cycle fits.
func EOLFor(products []EOLProduct, text string, asOf time.Time) (EOLFlag, bool) {
	low := strings.ToLower(text)
	if len(low) > maxNameLen {
		low = low[:maxNameLen]
	}
	for _, rl := range eolRules {
		if !rl.re.MatchString(low) {
			continue
		}
		var p *EOLProduct
		for i := range products {
			if products[i].Slug == rl.slug {
				p = &products[i]
			}
		}
		if p == nil {
			return EOLFlag{}, false // the catalogue does not have it
		}
		var rel *EOLRelease
		var how string
		if rl.byTokens {
			rel, how = cycleByTokens(p, low)
		} else {
			rel, how = cycleByVersion(p, low)
		}
		if rel == nil {
			return EOLFlag{}, false
		}
		f := EOLFlag{Value: text, Product: p.Slug, Title: p.Title, Cycle: rel.Cycle, Label: rel.Label, EOL: rel.EOL, How: how}
		switch {
		case !rel.EOL.IsZero():
			f.Unsupported = !asOf.Before(rel.EOL)
			f.How += fmt.Sprintf("; end of life %s", rel.EOL.Format("2006-01-02"))
		case rel.EOLFlag:
			f.Unsupported = true
			f.How += "; end of life (no date given)"
		default:
			f.How += "; still supported"
		}
		return f, true
	}
	return EOLFlag{}, false
}

// cycleByTokens picks the release whose label's first word (7, xp, vista,
// 10, 2008 …) is in the text, preferring the one with most of its other
// words (sp1, 22h2, r2 …) also there, then the one with the build number
// of the text (6.1.7601, 10.0.19041), then the latest released.
func cycleByTokens(p *EOLProduct, low string) (*EOLRelease, string) {
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(low, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.') }) {
		words[strings.Trim(w, ".")] = true
	}
	// "Service Pack 1" is SP1.
	if m := reServicePack.FindStringSubmatch(low); m != nil {
		words["sp"+m[1]] = true
	}
	build := ""
	if m := reBuild.FindStringSubmatch(low); m != nil {
		build = m[1]
	}
	var best *EOLRelease
	bestScore := -1
	bestHow := ""
	for i := range p.Releases {
		r := &p.Releases[i]
		label := r.Label
		if label == "" {
			label = strings.ReplaceAll(r.Cycle, "-", " ")
		}
		lw := strings.FieldsFunc(strings.ToLower(label), func(c rune) bool { return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.') })
		// Drop the product's own words ("windows", "server") from labels.
		var kept []string
		for _, w := range lw {
			if w != "windows" && w != "server" && w != "e" && w != "w" && w != "lts" {
				kept = append(kept, w)
			}
		}
		score := -1
		how := ""
		if build != "" && r.Latest != "" && strings.HasPrefix(r.Latest, build) {
			score, how = 100, "build "+build+" is "+label
		} else if len(kept) > 0 && words[kept[0]] {
			score = 1
			for _, w := range kept[1:] {
				if words[w] {
					score++
				}
			}
			how = fmt.Sprintf("%q read as %s", strings.TrimSpace(low), label)
			if score < len(kept) {
				how += " (assumed: the text does not say " + strings.Join(missing(kept, words), ", ") + ")"
			}
		}
		if score < 0 {
			continue
		}
		if score > bestScore || (score == bestScore && best != nil && r.ReleaseDate.After(best.ReleaseDate)) {
			best, bestScore, bestHow = r, score, how
		}
	}
	return best, bestHow
}

func missing(want []string, have map[string]bool) []string {
	var out []string
	for _, w := range want {
		if !have[w] {
			out = append(out, w)
		}
	}
	return out
}

// cycleByVersion picks the release whose cycle is the longest prefix of
// the first version in the text (Ubuntu 22.04.3 → 22.04, Linux 6.18.44 →
// 6.18, Debian 9.13 → 9), or whose codename is in the text.
func cycleByVersion(p *EOLProduct, low string) (*EOLRelease, string) {
	vs := reVersionWord.FindString(low)
	if vs != "" {
		v := version.Parse(vs)
		var best *EOLRelease
		bestLen := 0
		for i := range p.Releases {
			r := &p.Releases[i]
			c := version.Parse(r.Cycle)
			if c.IsZero() || !v.HasPrefix(c) {
				continue
			}
			if n := strings.Count(r.Cycle, ".") + 1; n > bestLen {
				best, bestLen = r, n
			}
		}
		if best != nil {
			return best, fmt.Sprintf("version %s is in cycle %s", vs, best.Cycle)
		}
	}
	for i := range p.Releases {
		r := &p.Releases[i]
		if r.Codename != "" && strings.Contains(low, strings.ToLower(r.Codename)) {
			return r, fmt.Sprintf("codename %s is cycle %s", r.Codename, r.Cycle)
		}
	}
	return nil, ""
}

// eolFlags checks a device's OS, firmware text and software against the
// end-of-life catalogue.
func (m *Matcher) eolFlags(d *Device, asOf time.Time) []EOLFlag {
	if len(m.eol) == 0 {
		return nil
	}
	var out []EOLFlag
	check := func(field, text string) {
		if text == "" {
			return
		}
		if f, ok := EOLFor(m.eol, text, asOf); ok {
			f.Target = field
			out = append(out, f)
		}
	}
	check("os", d.OS)
	for i, c := range d.Software {
		check(fmt.Sprintf("software[%d]", i), strings.TrimSpace(c.Name+" "+c.Version))
	}
	return out
}
