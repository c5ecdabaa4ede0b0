package ui

// chart is what static/js/charts.js draws: the server computes the
// numbers once, and the same numbers fill the chart and the data table
// beside it (the chart's text alternative), so the two cannot disagree.
type chart struct {
	// Kind: "bar" (vertical bars), "hbar" (horizontal bars, long
	// category names), "stack" (stacked bars over time), "line".
	Kind string `json:"kind"`
	// Label is the chart's accessible name; the script adds a summary of
	// the data to it.
	Label string `json:"label"`
	// Unit names what the values count ("devices", "open findings").
	Unit       string        `json:"unit"`
	Categories []string      `json:"categories"`
	Series     []chartSeries `json:"series"`
	// Links, per category, is where activating a bar leads ("" none).
	Links []string `json:"links,omitempty"`
	// Max fixes the value axis (RAMA: 100); 0 lets the data decide.
	Max float64 `json:"max,omitempty"`
	// Marks are labelled lines across the value axis (band thresholds).
	Marks []chartMark `json:"marks,omitempty"`
}

type chartSeries struct {
	Name string    `json:"name"`
	Data []float64 `json:"data"`
	// Tones, per point, are CSS colour names of the stylesheet
	// ("critical", "high" …): bands keep their colours everywhere.
	Tones []string `json:"tones,omitempty"`
}

type chartMark struct {
	Value float64 `json:"value"`
	Label string  `json:"label"`
}

// ramaMarks are the band thresholds DESIGN.md fixes.
var ramaMarks = []chartMark{{40, "Medium"}, {70, "High"}, {90, "Critical"}}

// hasData says whether any value is non-zero (an all-zero chart is shown
// as an empty state instead).
func (c chart) HasData() bool {
	for _, s := range c.Series {
		for _, v := range s.Data {
			if v != 0 {
				return true
			}
		}
	}
	return false
}
