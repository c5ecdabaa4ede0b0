package rama

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the JSON rendering of `heir score`: the Local RAMA and the
// devices, riskiest first.
type Report struct {
	V        int       `json:"v"`
	Type     string    `json:"type"`
	At       time.Time `json:"at"`
	Hospital Hospital  `json:"hospital"`
	Devices  []Ranked  `json:"devices"`
}

// NewReport builds the report of e's current scores, with the n riskiest
// devices (all when n ≤ 0).
func NewReport(e *Engine, n int) *Report {
	return &Report{V: 1, Type: TypeReport, At: e.At().UTC(), Hospital: e.Hospital(), Devices: e.Riskiest(n)}
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("rama json: %w", err)
	}
	return nil
}

func title(b Band) string {
	if b == "" {
		return ""
	}
	return strings.ToUpper(string(b[:1])) + string(b[1:])
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteTable renders the report as text: a summary line of the Local
// RAMA, then the devices riskiest first.
func WriteTable(w io.Writer, r *Report) error {
	h := &r.Hospital
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "Local RAMA %.1f %s: %d devices (%d critical, %d high, %d medium, %d low); mean of the %d riskiest %.1f, %.1f%% high or critical\n\n",
		h.Score, title(h.Band), h.Devices, h.Bands.Critical, h.Bands.High, h.Bands.Medium, h.Bands.Low, h.TopK, h.TopMean, 100*h.ShareHighCritical)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tDEVICE\tNAME\tROLE\tRAMA\tBAND\tINHERENT\tTOP INPUT")
	for i, d := range r.Devices {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.1f\t%s\t%.1f\t%s\n", i+1, d.ID, dash(d.Name), dash(d.Role), d.Residual, d.Band, d.Inherent, dash(d.Top))
	}
	tw.Flush()
	return bw.err
}

// WriteHospital renders the Local RAMA's breakdown by device class and by
// ENISA threat.
func WriteHospital(w io.Writer, h *Hospital) error {
	bw := &errWriter{w: w}
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tDEVICES\tRAMA\tBAND\tMAX\tCRITICAL\tHIGH\tMEDIUM\tLOW")
	for _, c := range h.ByRole {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%.1f\t%d\t%d\t%d\t%d\n", dash(c.Role), c.Devices, c.Score, c.Band, c.Max,
			c.Bands.Critical, c.Bands.High, c.Bands.Medium, c.Bands.Low)
	}
	tw.Flush()
	fmt.Fprintln(bw)
	tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENISA THREAT\tSHARE\tPOINTS\tDEVICES\tMAX")
	for _, t := range h.ByENISA {
		name := t.Name
		if t.ID > 0 {
			name = fmt.Sprintf("%d %s", t.ID, t.Name)
		}
		fmt.Fprintf(tw, "%s\t%.1f%%\t%.1f\t%d\t%.1f\n", name, 100*t.Share, t.Points, t.Devices, t.Max)
	}
	tw.Flush()
	return bw.err
}

// WriteExplanation renders one device's breakdown as text, for
// `heir explain DEVICE`.
func WriteExplanation(w io.Writer, b *Breakdown) error {
	bw := &errWriter{w: w}
	name := b.Device
	if b.Name != "" {
		name = fmt.Sprintf("%s (%s)", b.Name, b.Device)
	}
	fmt.Fprintf(bw, "%s, %s, at %s\n", name, dash(b.Role), b.At.UTC().Format("2006-01-02 15:04 MST"))
	if len(b.Controls) > 0 {
		fmt.Fprintf(bw, "RAMA %.1f %s (inherent %.1f %s, before compensating controls)\n\n", b.Residual, title(b.Band), b.Inherent, title(b.InherentBand))
	} else {
		fmt.Fprintf(bw, "RAMA %.1f %s (no compensating controls: inherent = residual)\n\n", b.Residual, title(b.Band))
	}

	fsrc := map[string]string{"role": "role " + b.Role, "declared": "declared", "life-sustaining": "life-sustaining flag", "default": "default: role " + dash(b.Role) + " not in the config"}
	fmt.Fprintf(bw, "impact      %s = 1 − (1 − %s %s, from %s)", num4(b.Impact), num(b.FunctionImpact), b.Function, fsrc[b.FunctionSource])
	if b.PHI {
		psrc := map[string]string{"role": "role " + b.Role, "declared": "declared", "finding": "cleartext-phi finding"}
		fmt.Fprintf(bw, " × (1 − %s patient data, from %s)\n", num(b.PHIImpact), psrc[b.PHISource])
	} else {
		fmt.Fprintf(bw, " (no patient data known)\n")
	}
	fmt.Fprintf(bw, "likelihood  %s = 1 − Π(1 − part) over %d parts\n", num4(b.Likelihood), len(b.Items))
	fmt.Fprintf(bw, "score       100 × %s × %s = %.1f", num4(b.Likelihood), num4(b.Impact), b.Formula)
	if b.FloorScore > b.Formula {
		fmt.Fprintf(bw, ", raised to the exploitation floor %s", num(b.FloorScore))
	}
	fmt.Fprintln(bw)
	if len(b.Controls) > 0 {
		fmt.Fprintf(bw, "residual    100 × %s × %s = %.1f", num4(b.ResidualLikelihood), num4(b.Impact), b.ResidualFormula)
		if b.ResidualFloor > b.ResidualFormula {
			fmt.Fprintf(bw, ", raised to the exploitation floor %s", num(b.ResidualFloor))
		}
		fmt.Fprintln(bw)
	}
	fmt.Fprintln(bw)

	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	if len(b.Controls) > 0 {
		fmt.Fprintln(tw, "POINTS\tRESIDUAL\tPART\tINPUT\tWHY")
	} else {
		fmt.Fprintln(tw, "POINTS\tPART\tINPUT\tWHY")
	}
	for _, it := range b.Items {
		in := string(it.Kind) + " " + it.Ref
		if it.Detail != "" {
			in += " (" + it.Detail + ")"
		}
		why := it.Why
		if it.Repeat < 1 {
			why += fmt.Sprintf(", repeat × %s", num(it.Repeat))
		}
		if len(b.Controls) > 0 {
			fmt.Fprintf(tw, "%.1f\t%.1f\t%s\t%s\t%s\n", it.Points, it.ResidualPoints, num4(it.Part), in, why)
		} else {
			fmt.Fprintf(tw, "%.1f\t%s\t%s\t%s\n", it.Points, num4(it.Part), in, why)
		}
	}
	tw.Flush()
	if len(b.Controls) > 0 {
		fmt.Fprintln(bw)
		var cs []string
		for _, c := range b.Controls {
			cs = append(cs, fmt.Sprintf("%s −%.1f", c.Kind, c.Points))
		}
		fmt.Fprintf(bw, "controls    %s: %.1f → %.1f\n", strings.Join(cs, ", "), b.Inherent, b.Residual)
	}
	if len(b.ByENISA) > 0 {
		var ts []string
		for _, t := range b.ByENISA {
			ts = append(ts, fmt.Sprintf("%s %.1f", t.Name, t.Points))
		}
		fmt.Fprintf(bw, "\nby ENISA threat (residual points): %s\n", strings.Join(ts, ", "))
	}
	if len(b.Ignored) > 0 {
		fmt.Fprintln(bw, "\nnot counted:")
		for _, s := range b.Ignored {
			fmt.Fprintf(bw, "  %s\n", s)
		}
	}
	return bw.err
}

// num4 formats a probability with four decimals.
func num4(x float64) string { return fmt.Sprintf("%.4f", x) }

// errWriter keeps the first write error so that renderers check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("rama render: %w", err)
	}
	return n, err
}
