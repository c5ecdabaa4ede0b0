// Command heirml is the Go side of bench/ml/compare.sh: it writes the
// stratified fold assignment and labels of the CICIoMT2024 sample (so the
// Python side uses the very same folds) and cross-validates heir's models
// on them, printing one JSON line per model and granularity.
//
//	heirml folds -data merged_sample.csv.gz -out folds.csv [-k 5 -seed 1]
//	heirml cv -data merged_sample.csv.gz -folds folds.csv [-models forest,gbdt] [-trees 100]
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/heir-emd/heir/internal/ml"
	"github.com/heir-emd/heir/internal/ml/dataset"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "heirml:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: heirml folds|cv [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "CICIoMT2024 CSV(.gz)")
	foldsPath := fs.String("folds", "folds.csv", "fold assignment file")
	out := fs.String("out", "folds.csv", "where folds writes the assignment")
	k := fs.Int("k", 5, "folds")
	seed := fs.Uint64("seed", 1, "seed for folds and models")
	models := fs.String("models", "forest,gbdt", "heir models to cross-validate")
	grans := fs.String("granularities", "class,category,binary", "label levels")
	trees := fs.Int("trees", 100, "forest size")
	rounds := fs.Int("rounds", 0, "gbdt rounds (0: default)")
	depth := fs.Int("depth", 0, "gbdt max depth (0: default)")
	lr := fs.Float64("lr", 0, "gbdt learning rate (0: default)")
	lambda := fs.Float64("lambda", 0, "gbdt L2 on leaf values (0: default)")
	mcw := fs.Float64("min-child-weight", 0, "gbdt least hessian sum in a child (0: default)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	d, err := dataset.ReadFile(*data, ml.CICIoMT2024Spec())
	if err != nil {
		return err
	}
	switch args[0] {
	case "folds":
		return writeFolds(d, *out, *k, *seed)
	case "cv":
		folds, err := readFolds(*foldsPath, d.N)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, gs := range strings.Split(*grans, ",") {
			g, err := ml.ParseGranularity(gs)
			if err != nil {
				return err
			}
			task, err := ml.CICIoMT2024Task(d, g)
			if err != nil {
				return err
			}
			for _, spec := range strings.Split(*models, ",") {
				// A model is a kind with optional overrides:
				// gbdt:rounds=300:lr=0.1 (rounds, lr, depth, lambda, mcw, trees).
				parts := strings.Split(spec, ":")
				kind, err := ml.ParseKind(parts[0])
				if err != nil {
					return err
				}
				cfg := ml.DefaultConfig(kind)
				cfg.Seed = *seed
				if kind == ml.Forest {
					cfg.Trees = *trees
				}
				if kind == ml.GBDT {
					cfg.Rounds, cfg.MaxDepth, cfg.LearningRate = *rounds, *depth, *lr
					cfg.Lambda, cfg.MinChildWeight = *lambda, *mcw
				}
				for _, kv := range parts[1:] {
					k, v, _ := strings.Cut(kv, "=")
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						return fmt.Errorf("model %q: %s: %w", spec, kv, err)
					}
					switch k {
					case "rounds":
						cfg.Rounds = int(f)
					case "lr":
						cfg.LearningRate = f
					case "depth":
						cfg.MaxDepth = int(f)
					case "lambda":
						cfg.Lambda = f
					case "mcw":
						cfg.MinChildWeight = f
					case "trees":
						cfg.Trees = int(f)
					default:
						return fmt.Errorf("model %q: unknown setting %q", spec, k)
					}
				}
				res, err := ml.CrossValidate(ctx, task, cfg, folds)
				if err != nil {
					return err
				}
				fold := make([]float64, len(res.Folds))
				for i, f := range res.Folds {
					fold[i] = f.Metrics.MacroF1
				}
				per := map[string]float64{}
				for _, c := range res.Pooled.PerClass {
					per[c.Class] = c.F1
				}
				if err := enc.Encode(map[string]any{
					"library": "heir", "model": spec, "granularity": string(g),
					"classes": len(task.Classes), "macro_f1": res.MacroF1Mean, "macro_f1_std": res.MacroF1Std,
					"fold_macro_f1": fold, "train_s": res.MeanTrainTime().Seconds(),
					"predict_rows_per_s": res.RowsPerSecond(), "threads": runtime.GOMAXPROCS(0),
					"train_cpu_s": res.MeanTrainCPU().Seconds(), "predict_rows_per_cpu_s": res.RowsPerCPUSecond(),
					"per_class_f1": per, "config": res.Config,
				}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func writeFolds(d *dataset.Dataset, path string, k int, seed uint64) error {
	task, err := ml.CICIoMT2024Task(d, ml.Class)
	if err != nil {
		return err
	}
	folds, err := ml.StratifiedFolds(task.Y, k, seed)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "row,fold,class,category,binary")
	for i, raw := range d.Labels {
		l, err := ml.CICIoMT2024Label(raw)
		if err != nil {
			f.Close()
			return err
		}
		fmt.Fprintf(w, "%d,%d,%s,%s,%s\n", i, folds[i], l.Class, l.Category, l.Binary)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readFolds(path string, n int) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) != n+1 {
		return nil, fmt.Errorf("%s: %d rows, data has %d", path, len(recs)-1, n)
	}
	folds := make([]int, n)
	for i, r := range recs[1:] {
		row, err1 := strconv.Atoi(r[0])
		fold, err2 := strconv.Atoi(r[1])
		if err1 != nil || err2 != nil || row != i {
			return nil, fmt.Errorf("%s: bad line %d", path, i+2)
		}
		folds[i] = fold
	}
	return folds, nil
}
