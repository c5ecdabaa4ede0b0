package cli

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/heir-emd/heir/internal/ml"
	"github.com/heir-emd/heir/internal/ml/dataset"
)

// runML: heir ml train|eval [flags] DATA
func runML(e *env, args []string) int {
	fs := newFlags("ml", "heir ml train|eval [flags] DATA.csv[.gz]", `
Train and evaluate flow classifiers written in heir: decision trees, random
forests and gradient-boosted trees (docs/ml.md). The data is a CSV of flow
features with a label column; --dataset ciciomt2024 reads the CICIoMT2024
columns and maps its capture-file labels to 19 classes, 6 categories or
attack/benign. 'train' writes a versioned model file; 'eval' scores a saved
model on labelled data, or with --cv K cross-validates a learner with K
stratified folds.`)
	kind := fs.String("kind", "gbdt", "the learner: tree, forest or gbdt")
	gran := fs.String("granularity", "class", "with ciciomt2024: class (19), category (6) or binary (2)")
	ds := fs.String("dataset", "ciciomt2024", "the data's layout: ciciomt2024, or generic (use --label)")
	label := fs.String("label", "label", "with --dataset generic: the label `COLUMN`")
	drop := fs.String("drop", "", "with --dataset generic: comma-separated `COLUMNS` to leave out")
	out := fs.String("out", "model.json", "with train: the model `FILE` to write")
	model := fs.String("model", "", "with eval: the model `FILE` to evaluate")
	cv := fs.Int("cv", 0, "with eval: cross-validate --kind with `K` stratified folds instead of evaluating a model")
	seed := fs.Uint64("seed", 1, "random seed: the same data, settings and seed give the same model")
	trees := fs.Int("trees", 0, "forest: number of trees (default 100)")
	rounds := fs.Int("rounds", 0, "gbdt: boosting rounds (default 100)")
	lr := fs.Float64("lr", 0, "gbdt: learning rate (default 0.3)")
	depth := fs.Int("depth", 0, "maximum tree depth (default: unlimited for tree and forest, 6 for gbdt)")
	asJSON := fs.Bool("json", false, "print the metrics as JSON")
	verb := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	if (verb != "train" && verb != "eval") || fs.NArg() != 1 {
		return usageError(e.stderr, "ml", "say train or eval, and one data file")
	}
	k, err := ml.ParseKind(*kind)
	if err != nil {
		return usageError(e.stderr, "ml", "--kind: %v", err)
	}
	cfg := ml.DefaultConfig(k)
	cfg.Seed = *seed
	if *trees > 0 {
		cfg.Trees = *trees
	}
	if *rounds > 0 {
		cfg.Rounds = *rounds
	}
	if *lr > 0 {
		cfg.LearningRate = *lr
	}
	if *depth > 0 {
		cfg.MaxDepth = *depth
	}
	defer debug.SetGCPercent(debug.SetGCPercent(400))

	var spec dataset.Spec
	var task func(*dataset.Dataset) (*ml.Task, error)
	switch *ds {
	case "ciciomt2024":
		g, err := ml.ParseGranularity(*gran)
		if err != nil {
			return usageError(e.stderr, "ml", "--granularity: %v", err)
		}
		spec = ml.CICIoMT2024Spec()
		task = func(d *dataset.Dataset) (*ml.Task, error) { return ml.CICIoMT2024Task(d, g) }
	case "generic":
		spec = dataset.Spec{Label: *label, AllowMissing: true}
		if *drop != "" {
			spec.Drop = strings.Split(*drop, ",")
		}
		task = func(d *dataset.Dataset) (*ml.Task, error) { return ml.NewTask(d, nil) }
	default:
		return usageError(e.stderr, "ml", "--dataset is ciciomt2024 or generic, not %q", *ds)
	}

	if verb == "eval" && *model != "" {
		m, err := ml.LoadFile(*model)
		if err != nil {
			fmt.Fprintf(e.stderr, "heir ml eval: %v\n", err)
			return ExitUsage
		}
		spec.Features = m.Features
		t, code := readTask(e, fs.Arg(0), spec, task)
		if t == nil {
			return code
		}
		met, err := ml.Evaluate(m, t)
		if err != nil {
			fmt.Fprintf(e.stderr, "heir ml eval: %v\n", err)
			return ExitUsage
		}
		return printMetrics(e, met, *asJSON)
	}
	t, code := readTask(e, fs.Arg(0), spec, task)
	if t == nil {
		return code
	}
	if verb == "eval" {
		if *cv < 2 {
			return usageError(e.stderr, "ml", "eval needs --model FILE, or --cv K (K ≥ 2) to cross-validate --kind")
		}
		folds, err := ml.StratifiedFolds(t.Y, *cv, *seed)
		if err != nil {
			return usageError(e.stderr, "ml", "%v", err)
		}
		res, err := ml.CrossValidate(e.ctx, t, cfg, folds)
		if err != nil {
			fmt.Fprintf(e.stderr, "heir ml eval: %v\n", err)
			return ExitInternal
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			enc.Encode(res)
			return ExitOK
		}
		fmt.Fprintf(e.stdout, "%s, %d folds: macro-F1 %.4f ± %.4f; training %.1f s per fold; prediction %.0f rows/s\n",
			cfg.Kind, *cv, res.MacroF1Mean, res.MacroF1Std, res.MeanTrainTime().Seconds(), res.RowsPerSecond())
		return ExitOK
	}
	m, err := ml.Train(e.ctx, t, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir ml train: %v\n", err)
		return ExitInternal
	}
	if err := m.SaveFile(*out); err != nil {
		fmt.Fprintf(e.stderr, "heir ml train: %v\n", err)
		return ExitUsage
	}
	fmt.Fprintf(e.stdout, "trained a %s on %d rows, %d features, %d classes; model in %s\n", cfg.Kind, t.N, t.D, len(t.Classes), *out)
	return ExitOK
}

func readTask(e *env, path string, spec dataset.Spec, task func(*dataset.Dataset) (*ml.Task, error)) (*ml.Task, int) {
	d, err := dataset.ReadFile(path, spec)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir ml: %v\n", err)
		return nil, ExitUsage
	}
	t, err := task(d)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir ml: %v\n", err)
		return nil, ExitUsage
	}
	return t, ExitOK
}

func printMetrics(e *env, m ml.Metrics, asJSON bool) int {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(m)
		return ExitOK
	}
	fmt.Fprintf(e.stdout, "%d rows: macro-F1 %.4f, accuracy %.4f\n\n", m.N, m.MacroF1, m.Accuracy)
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CLASS\tPRECISION\tRECALL\tF1")
	for _, c := range m.PerClass {
		fmt.Fprintf(w, "%s\t%.3f\t%.3f\t%.3f\n", c.Class, c.Precision, c.Recall, c.F1)
	}
	w.Flush()
	return ExitOK
}
