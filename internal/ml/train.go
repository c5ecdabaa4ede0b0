package ml

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Kind names a learner.
type Kind string

// The learners.
const (
	Tree   Kind = "tree"   // one CART tree, every feature considered at each node
	Forest Kind = "forest" // random forest: bootstrap rows, random feature subsets per node
	GBDT   Kind = "gbdt"   // gradient-boosted trees, softmax loss, vector leaves
)

// Config chooses a learner and its parameters. Zero fields take the
// defaults of DefaultConfig(Kind); the defaults are documented in docs/ml.md.
type Config struct {
	Kind Kind `json:"kind"`
	// Seed makes training reproducible: the same data, config and seed give
	// the same model, whatever Workers is.
	Seed uint64 `json:"seed"`
	// MaxBins is the most quantile bins per feature (2–256; default 255).
	MaxBins int `json:"max_bins"`
	// Workers is how many trees of a forest grow at once (0: GOMAXPROCS).
	// Boosting rounds are sequential.
	Workers int `json:"-"`

	// MaxDepth bounds tree depth; 0 is unlimited for tree and forest, 6 for
	// gbdt.
	MaxDepth int `json:"max_depth"`
	// MinLeaf is the least (bootstrap-weighted) rows in a leaf of a tree or
	// forest (default 1).
	MinLeaf int `json:"min_leaf,omitempty"`
	// MaxFeatures is how many features a forest's node draws (default
	// ⌊√D⌋, as scikit-learn); a tree considers all.
	MaxFeatures int `json:"max_features,omitempty"`
	// Trees is the forest's size (default 100).
	Trees int `json:"trees,omitempty"`
	// NoBootstrap grows every forest tree on all rows.
	NoBootstrap bool `json:"no_bootstrap,omitempty"`

	// Rounds, LearningRate, Lambda (L2 on leaf values) and MinChildWeight
	// (least hessian sum over classes in a child) tune boosting. Defaults:
	// 100, 0.3, 3, 2 (chosen on fold 0 of the CICIoMT2024 sample; docs/ml.md).
	Rounds       int     `json:"rounds,omitempty"`
	LearningRate float64 `json:"learning_rate,omitempty"`
	Lambda       float64 `json:"lambda,omitempty"`
	// Alpha is the L1 penalty on leaf values (XGBoost's reg_alpha): a
	// class whose gradients in a leaf sum to less than Alpha gets 0 there.
	// Default 0.
	Alpha          float64 `json:"alpha,omitempty"`
	MinChildWeight float64 `json:"min_child_weight,omitempty"`
}

// DefaultConfig returns the defaults of a learner.
func DefaultConfig(k Kind) Config {
	c := Config{Kind: k, Seed: 1, MaxBins: 255, MinLeaf: 1}
	switch k {
	case Forest:
		c.Trees = 100
	case GBDT:
		c.MaxDepth, c.Rounds, c.LearningRate, c.Lambda, c.MinChildWeight = 6, 100, 0.3, 3, 2
		c.MinLeaf = 0
	}
	return c
}

// ParseKind accepts the learner names.
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case Tree, Forest, GBDT:
		return Kind(s), nil
	}
	return "", fmt.Errorf("unknown model kind %q (want tree, forest or gbdt)", s)
}

func (c Config) withDefaults(d int) (Config, error) {
	def := DefaultConfig(c.Kind)
	switch c.Kind {
	case Tree, Forest, GBDT:
	default:
		return c, fmt.Errorf("unknown model kind %q (want tree, forest or gbdt)", c.Kind)
	}
	if c.MaxBins == 0 {
		c.MaxBins = def.MaxBins
	}
	if c.MaxBins < 2 || c.MaxBins > 256 {
		return c, fmt.Errorf("max bins %d: want 2 to 256", c.MaxBins)
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.MaxDepth < 0 {
		return c, fmt.Errorf("max depth %d: want 0 (default) or more", c.MaxDepth)
	}
	switch c.Kind {
	case Tree, Forest:
		if c.MinLeaf <= 0 {
			c.MinLeaf = 1
		}
		if c.Kind == Tree {
			c.MaxFeatures, c.Trees, c.NoBootstrap = d, 1, true
		}
		if c.MaxFeatures <= 0 {
			c.MaxFeatures = max(1, int(math.Sqrt(float64(d))))
		}
		c.MaxFeatures = min(c.MaxFeatures, d)
		if c.Trees <= 0 {
			c.Trees = def.Trees
		}
		c.Rounds, c.LearningRate, c.Lambda, c.Alpha, c.MinChildWeight = 0, 0, 0, 0, 0
	case GBDT:
		if c.MaxDepth == 0 {
			c.MaxDepth = def.MaxDepth
		}
		if c.Rounds <= 0 {
			c.Rounds = def.Rounds
		}
		if c.LearningRate == 0 {
			c.LearningRate = def.LearningRate
		}
		if c.Lambda == 0 {
			c.Lambda = def.Lambda
		}
		if c.MinChildWeight == 0 {
			c.MinChildWeight = def.MinChildWeight
		}
		if c.Alpha == 0 {
			c.Alpha = def.Alpha
		}
		c.Alpha = max(c.Alpha, 0)
		if !(c.LearningRate > 0 && c.LearningRate <= 1) || !(c.Lambda > 0) || !(c.MinChildWeight >= 0) {
			return c, fmt.Errorf("gbdt: learning rate %g (want (0,1]), lambda %g (want > 0), min child weight %g (want ≥ 0)",
				c.LearningRate, c.Lambda, c.MinChildWeight)
		}
		c.MinLeaf, c.MaxFeatures, c.Trees, c.NoBootstrap = 0, 0, 0, false
	}
	return c, nil
}

// Train fits a model of cfg.Kind to the task.
func Train(ctx context.Context, t *Task, cfg Config) (*Model, error) {
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	cfg, err := cfg.withDefaults(t.D)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	b := binData(t, cfg.MaxBins)
	var m *Model
	switch cfg.Kind {
	case GBDT:
		m, err = trainGBDT(ctx, t, b, cfg)
	default:
		m, err = trainForest(ctx, t, b, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("train %s: %w", cfg.Kind, err)
	}
	m.Kind = cfg.Kind
	m.Features = append([]string(nil), t.Features...)
	m.Classes = append([]string(nil), t.Classes...)
	m.Training.Config = cfg
	m.Training.Rows = t.N
	if err := m.compile(); err != nil {
		return nil, fmt.Errorf("train %s: %w", cfg.Kind, err)
	}
	return m, nil
}

// treeSeed gives tree i of a forest its own random stream, so the forest
// does not depend on which worker grows which tree.
func treeRNG(seed uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15^uint64(i)))
}

func trainForest(ctx context.Context, t *Task, b *binned, cfg Config) (*Model, error) {
	k := len(t.Classes)
	y := make([]uint8, t.N)
	for i, c := range t.Y {
		y[i] = uint8(c)
	}
	trees := make([]tree, cfg.Trees)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan int)
	for w := 0; w < min(cfg.Workers, cfg.Trees); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newClassGrower(b, y, k, cfg.MaxFeatures, cfg.MaxDepth, cfg.MinLeaf)
			for i := range next {
				rng := treeRNG(cfg.Seed, i)
				if cfg.NoBootstrap {
					for r := range g.w {
						g.w[r] = 1
					}
				} else {
					// scikit-learn's bootstrap: N draws with replacement.
					clear(g.w)
					for range t.N {
						g.w[rng.IntN(t.N)]++
					}
				}
				tr, err := g.grow(ctx, rng)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					continue
				}
				trees[i] = tr
			}
		}()
	}
	for i := 0; i < cfg.Trees; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Model{trees: trees}, nil
}
