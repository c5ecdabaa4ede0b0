package report

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// WriteText writes the report for a person: short, aligned sections.
func (r *Report) WriteText(out io.Writer) error {
	bw := bufio.NewWriter(out)
	w := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	p := &r.Packets

	files := "capture"
	if len(r.Inputs) != 1 {
		files = "captures"
	}
	fmt.Fprintf(bw, "heir analyze: %d %s, %s packets, %s", len(r.Inputs), files, count(p.Frames), bytesize(p.Bytes))
	if !r.Start.IsZero() {
		fmt.Fprintf(bw, ", %s to %s (%s)", r.Start.Format("2006-01-02 15:04:05"), r.End.Format("2006-01-02 15:04:05"),
			r.End.Sub(r.Start).Round(time.Second))
	}
	fmt.Fprintf(bw, "\n\n")

	fmt.Fprintf(bw, "DEVICES (%d)\n", len(r.Devices))
	if len(r.Devices) > 0 {
		fmt.Fprintln(w, "ADDRESS\tMAC\tVENDOR\tROLE\tNAME\tIDENTITY\tSERVICES\tPROTOCOLS")
		for _, d := range r.Devices {
			ips := make([]string, 0, len(d.IPs))
			for _, ip := range d.IPs {
				ips = append(ips, ip.String())
			}
			identity := strings.Join(nonEmpty(d.Model, d.Firmware, strings.Join(d.Software, "; "), d.OS), ", ")
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				dash(strings.Join(ips, ",")), dash(d.MAC), dash(clip(d.Vendor, 24)), dash(d.Role), dash(d.Hostname),
				dash(clip(identity, 40)), dash(services(d.Services)), dash(strings.Join(d.Protocols, ",")))
		}
		w.Flush()
	}
	fmt.Fprintln(bw)

	fmt.Fprintf(bw, "PROTOCOLS\n")
	fmt.Fprintln(w, "PROTOCOL\tFLOWS\tPACKETS\tBYTES\tSERVERS\tCLIENTS")
	for _, pr := range r.Protocols {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\n", pr.Name, count(pr.Flows), count(pr.Packets), bytesize(pr.Bytes), pr.Servers, pr.Clients)
	}
	w.Flush()
	fmt.Fprintln(bw)

	// With detection on, findings are the weaknesses, with their
	// taxonomy tags; without it, the dissectors' weaknesses are listed.
	if !r.Detection {
		fmt.Fprintf(bw, "WEAKNESSES (%d)\n", len(r.Weaknesses))
		if len(r.Weaknesses) > 0 {
			fmt.Fprintln(w, "SEVERITY\tWEAKNESS\tENDPOINT\tPROTOCOL\tSEEN\tDETAIL")
			for _, wk := range r.Weaknesses {
				ep := wk.Endpoint.String()
				if wk.Port != 0 {
					ep = netip.AddrPortFrom(wk.Endpoint, wk.Port).String() // brackets IPv6
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", wk.Severity, wk.Kind, ep, wk.Proto, wk.Count, clip(wk.Detail, 70))
			}
			w.Flush()
		} else {
			fmt.Fprintln(bw, "none seen")
		}
	}

	if r.Detection {
		fmt.Fprintf(bw, "FINDINGS (%d)\n", len(r.Findings))
		if len(r.Findings) > 0 {
			fmt.Fprintln(w, "SEVERITY\tFINDING\tENDPOINT\tPROTOCOL\tSEEN\tTAGS")
			for _, f := range r.Findings {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", f.Severity, f.Rule, endpoint(f.Endpoint), f.Proto, f.Count, clip(tagIDs(f.Tags), 60))
			}
			w.Flush()
		} else {
			fmt.Fprintln(bw, "none seen")
		}
		fmt.Fprintf(bw, "\nALERTS (%d)\n", len(r.Alerts))
		if len(r.Alerts) > 0 {
			fmt.Fprintln(w, "SEVERITY\tALERT\tSOURCE\tTARGET\tSTART\tFOR\tCOUNT\tDESCRIPTION")
			for _, a := range r.Alerts {
				target := "-"
				if len(a.Targets) > 0 {
					target = endpoint(a.Targets[0])
					if a.TargetCount > 1 {
						target += fmt.Sprintf(" +%d", a.TargetCount-1)
					}
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", a.Severity, a.Rule, endpoint(a.Source), target,
					a.Start.Format("15:04:05"), a.End.Sub(a.Start).Round(time.Millisecond), a.Count, clip(a.Description, 70))
			}
			w.Flush()
		} else {
			fmt.Fprintln(bw, "none seen")
		}
	}

	notes := r.notes()
	if len(notes) > 0 {
		fmt.Fprintf(bw, "\nNOTES\n")
		for _, n := range notes {
			fmt.Fprintf(bw, "- %s\n", n)
		}
	}
	return bw.Flush()
}

// notes lists everything the packet path could not use, so that a reader
// knows what the report does not cover.
func (r *Report) notes() []string {
	var out []string
	p := &r.Packets
	for _, in := range r.Inputs {
		if in.Error != "" {
			out = append(out, fmt.Sprintf("%s: %s", in.Name, in.Error))
		}
	}
	if p.Malformed > 0 {
		reasons := make([]string, 0, len(p.Errors))
		for k, v := range p.Errors {
			reasons = append(reasons, fmt.Sprintf("%s %d", k, v))
		}
		slices.Sort(reasons)
		out = append(out, fmt.Sprintf("%s malformed frames skipped (%s)", count(p.Malformed), strings.Join(reasons, ", ")))
	}
	if p.Truncated > 0 {
		out = append(out, fmt.Sprintf("%s packets cut short by the capture's snap length", count(p.Truncated)))
	}
	if p.Filtered > 0 {
		out = append(out, fmt.Sprintf("%s packets excluded by the filter", count(p.Filtered)))
	}
	d := p.Defrag
	if d.Fragments > 0 {
		out = append(out, fmt.Sprintf("%s IP fragments: %s datagrams reassembled, %s invalid, %s overlapping, %s duplicates, %s over limits, %s timed out",
			count(d.Fragments), count(d.Reassembled), count(d.Invalid), count(d.Overlaps), count(d.Duplicates), count(d.TooMany+d.Evicted), count(d.TimedOut)))
	}
	f := p.Flow
	if f.Evicted > 0 {
		out = append(out, fmt.Sprintf("%s flows ended early because the flow table was full", count(f.Evicted)))
	}
	if f.Gaps > 0 {
		out = append(out, fmt.Sprintf("%s TCP gaps (%s bytes missing from the capture)", count(f.Gaps), count(f.GapBytes)))
	}
	if f.HeldOverflow+f.BudgetExceeded > 0 {
		out = append(out, fmt.Sprintf("%s reassembly limits reached", count(f.HeldOverflow+f.BudgetExceeded)))
	}
	return out
}

func services(ss []event.Service) string {
	parts := make([]string, 0, len(ss))
	for _, s := range ss {
		v := s.Transport + "/" + strconv.Itoa(int(s.Port))
		if s.Proto != "" {
			v += " " + s.Proto
		}
		parts = append(parts, v)
	}
	return clip(strings.Join(parts, ", "), 48)
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// count formats n with thousands separators.
func count(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

func bytesize(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// endpoint renders an address with its port when it has one.
func endpoint(e event.Endpoint) string {
	if !e.IP.IsValid() {
		return dash(e.MAC)
	}
	if e.Port != 0 {
		return netip.AddrPortFrom(e.IP, e.Port).String()
	}
	return e.IP.String()
}

// tagIDs lists tags as taxonomy-short:id ("ENISA 11, A02, I7, T1040").
func tagIDs(tags []event.Tag) string {
	var out []string
	for _, t := range tags {
		switch t.Taxonomy {
		case event.TaxENISA:
			out = append(out, "ENISA "+t.ID)
		case event.TaxOWASP2025:
			continue // the 2021 ids stand for both in the text report
		default:
			out = append(out, t.ID)
		}
	}
	return strings.Join(out, ", ")
}
