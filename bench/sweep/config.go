package sweep

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compacter-go/compacter/bench/finetune"
	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/peft"
)

// PaperSizes are the training-set sizes of the paper's low-resource
// experiment.
var PaperSizes = []int{100, 500, 1000, 2000, 4000}

// PaperMethods are the methods this package runs by default: full
// fine-tuning, Adapter, Compacter and Compacter++.
var PaperMethods = []peft.Method{peft.FullFinetune, peft.Adapter, peft.Compacter, peft.CompacterPP}

// Overrides replace finetune.Defaults' hyper-parameters; a nil field keeps
// the default of the method and task.
type Overrides struct {
	// LR is one learning rate for every method (default: each method's).
	LR *float64 `json:"learning_rate,omitempty"`
	// Epochs fixes the epochs of every cell; it excludes Config.Steps.
	Epochs *int `json:"epochs,omitempty"`
	// Batch and MicroBatch are the examples per optimizer step and per
	// pass; a Batch without a MicroBatch caps the default micro-batch at
	// the batch.
	Batch      *int `json:"batch,omitempty"`
	MicroBatch *int `json:"micro_batch,omitempty"`
	// Warmup is the number of warm-up steps; MaxLen the input length.
	Warmup *int `json:"warmup_steps,omitempty"`
	MaxLen *int `json:"max_source_length,omitempty"`
}

// Config describes a sweep.
type Config struct {
	// ModelDir is the base checkpoint (config.json, model.safetensors,
	// spiece.model), loaded afresh for every cell; Backend the compute
	// backend ("" = kernels.Default).
	ModelDir string `json:"model"`
	Backend  string `json:"backend,omitempty"`
	// DataDir is the folder in the GLUE layout; OutDir receives the cells,
	// the tables and the figures.
	DataDir string `json:"data"`
	OutDir  string `json:"out"`

	// The grid: tasks (glue.Lookup names), methods, training-set sizes and
	// seeds. Sizes must be positive and are sorted; duplicates are
	// removed.
	Tasks   []string      `json:"tasks"`
	Methods []peft.Method `json:"methods"`
	Sizes   []int         `json:"sizes"`
	Seeds   []uint64      `json:"seeds"`
	// Clamp runs a size larger than a task's training split on the whole
	// split instead of failing (see the package documentation).
	Clamp bool `json:"clamp,omitempty"`

	// PEFT returns a method's configuration (nil: peft.Default).
	PEFT func(peft.Method) (peft.Config, error) `json:"-"`
	// Hyper overrides the default hyper-parameters.
	Hyper Overrides `json:"overrides"`
	// Steps > 0 trains every cell for about that many optimizer steps:
	// its epochs are ceil(Steps / steps per epoch), so that small and
	// large sizes get the same number of updates (rounded up to whole
	// epochs, since the best epoch is chosen by validation).
	Steps int `json:"steps,omitempty"`
	// EvalSamples > 0 caps the validation and test examples scored;
	// SaveEvery > 0 checkpoints every that many steps within a cell.
	EvalSamples int `json:"eval_samples,omitempty"`
	SaveEvery   int `json:"save_every,omitempty"`
	// KeepWeights keeps a finished cell's checkpoint and best adapter.
	KeepWeights bool `json:"keep_weights,omitempty"`
}

// Cell is one run of the grid.
type Cell struct {
	Task   string      `json:"task"`
	Method peft.Method `json:"method"`
	// Size is the number of training examples; Requested lists the sizes
	// of the grid it stands for (more than one, or another number, only
	// when Config.Clamp cut them to the training split).
	Size      int    `json:"size"`
	Requested []int  `json:"requested_sizes"`
	Seed      uint64 `json:"seed"`
	task      *glue.Task
	hyper     finetune.Hyper
	pc        peft.Config
	trainFile string
}

// Dir is the cell's folder relative to OutDir:
// cells/<task>/<method>/n<size>/s<seed>.
func (c Cell) Dir() string {
	return filepath.Join("cells", c.Task, string(c.Method), fmt.Sprintf("n%d", c.Size), fmt.Sprintf("s%d", c.Seed))
}

// String names the cell as "task/method/n<size>/s<seed>".
func (c Cell) String() string {
	return fmt.Sprintf("%s/%s/n%d/s%d", c.Task, c.Method, c.Size, c.Seed)
}

// Plan is the grid of a sweep, in the order it runs: seed by seed (so an
// interrupted sweep has whole grids of its first seeds), then task, size
// ascending and method.
type Plan struct {
	Cells []Cell
	// TrainRows is the size of each task's training split.
	TrainRows map[string]int
	// Notes say which sizes were clamped.
	Notes []string
}

// ErrConfig reports an invalid sweep configuration.
var ErrConfig = errors.New("sweep: bad configuration")

// NewPlan checks the configuration, reads each task's training split to
// learn its size, and lays out the grid with every cell's
// hyper-parameters and PEFT configuration resolved.
func NewPlan(cfg Config) (*Plan, error) {
	switch {
	case cfg.DataDir == "" || cfg.OutDir == "":
		return nil, fmt.Errorf("%w: DataDir and OutDir are required", ErrConfig)
	case len(cfg.Tasks) == 0 || len(cfg.Methods) == 0 || len(cfg.Sizes) == 0 || len(cfg.Seeds) == 0:
		return nil, fmt.Errorf("%w: the grid needs tasks, methods, sizes and seeds (got %d, %d, %d, %d)",
			ErrConfig, len(cfg.Tasks), len(cfg.Methods), len(cfg.Sizes), len(cfg.Seeds))
	case cfg.Steps < 0 || cfg.EvalSamples < 0 || cfg.SaveEvery < 0:
		return nil, fmt.Errorf("%w: negative steps %d, eval samples %d or save-every %d", ErrConfig, cfg.Steps, cfg.EvalSamples, cfg.SaveEvery)
	case cfg.Steps > 0 && cfg.Hyper.Epochs != nil:
		return nil, fmt.Errorf("%w: Steps and Epochs exclude each other", ErrConfig)
	}
	sizes := slices.Clone(cfg.Sizes)
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	if sizes[0] <= 0 {
		return nil, fmt.Errorf("%w: training-set size %d must be positive", ErrConfig, sizes[0])
	}
	if s := slices.Clone(cfg.Seeds); len(slices.Compact(sortedU(s))) != len(cfg.Seeds) {
		return nil, fmt.Errorf("%w: repeated seed in %v", ErrConfig, cfg.Seeds)
	}
	var tasks []*glue.Task
	for _, name := range cfg.Tasks {
		t, err := glue.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		if slices.Contains(tasks, t) {
			return nil, fmt.Errorf("%w: task %s listed twice", ErrConfig, t.Name)
		}
		tasks = append(tasks, t)
	}
	for i, m := range cfg.Methods {
		if _, err := peft.Default(m); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		if slices.Contains(cfg.Methods[:i], m) {
			return nil, fmt.Errorf("%w: method %s listed twice", ErrConfig, m)
		}
	}
	p := &Plan{TrainRows: map[string]int{}}
	type sized struct {
		n   int
		req []int
	}
	perTask := map[string][]sized{}
	for _, t := range tasks {
		d, err := t.Load(cfg.DataDir, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("sweep: %s: %w", t.Name, err)
		}
		rows := len(d.Train)
		p.TrainRows[t.Name] = rows
		var ss []sized
		var over []string
		for _, n := range sizes {
			eff := n
			if n > rows {
				if !cfg.Clamp {
					return nil, fmt.Errorf("%w: %s has %d training examples, fewer than the size %d (drop the size or clamp it to the whole split)",
						ErrConfig, t.Name, rows, n)
				}
				over = append(over, fmt.Sprint(n))
				eff = rows
			}
			if len(ss) > 0 && ss[len(ss)-1].n == eff {
				ss[len(ss)-1].req = append(ss[len(ss)-1].req, n)
				continue
			}
			ss = append(ss, sized{n: eff, req: []int{n}})
		}
		if len(over) > 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: sizes %s exceed its %d training examples and run on all of them",
				t.Name, strings.Join(over, ", "), rows))
		}
		perTask[t.Name] = ss
	}
	for _, seed := range cfg.Seeds {
		for _, t := range tasks {
			for _, s := range perTask[t.Name] {
				for _, m := range cfg.Methods {
					c := Cell{Task: t.Name, Method: m, Size: s.n, Requested: s.req, Seed: seed, task: t,
						trainFile: filepath.Join(cfg.DataDir, t.Dir, t.TrainFile)}
					var err error
					if c.pc, c.hyper, err = resolve(cfg, m, t, s.n); err != nil {
						return nil, fmt.Errorf("sweep: %s: %w", c, err)
					}
					p.Cells = append(p.Cells, c)
				}
			}
		}
	}
	return p, nil
}

func sortedU(s []uint64) []uint64 { slices.Sort(s); return s }

// resolve gives a cell's PEFT configuration and hyper-parameters: the
// method's (or Config.PEFT's) configuration, finetune.Defaults with its
// learning rate, the overrides, and the epochs of Config.Steps.
func resolve(cfg Config, m peft.Method, t *glue.Task, n int) (peft.Config, finetune.Hyper, error) {
	var pc peft.Config
	var err error
	if cfg.PEFT != nil {
		pc, err = cfg.PEFT(m)
	} else {
		pc, err = peft.Default(m)
	}
	if err != nil {
		return pc, finetune.Hyper{}, err
	}
	if pc.Method != m {
		return pc, finetune.Hyper{}, fmt.Errorf("%w: the PEFT configuration of %s is for %s", ErrConfig, m, pc.Method)
	}
	h, err := finetune.Defaults(m, t)
	if err != nil {
		return pc, h, err
	}
	h.LR = pc.LearningRate
	o := cfg.Hyper
	if o.LR != nil {
		h.LR = *o.LR
	}
	for _, f := range []struct {
		v   *int
		dst *int
	}{{o.Epochs, &h.Epochs}, {o.Batch, &h.Batch}, {o.MicroBatch, &h.MicroBatch}, {o.Warmup, &h.Warmup}, {o.MaxLen, &h.MaxLen}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if o.Batch != nil && o.MicroBatch == nil {
		h.MicroBatch = min(h.MicroBatch, h.Batch)
	}
	if cfg.Steps > 0 {
		if h.Batch <= 0 {
			return pc, h, fmt.Errorf("%w: batch %d must be positive", ErrConfig, h.Batch)
		}
		spe := (n + h.Batch - 1) / h.Batch
		h.Epochs = (cfg.Steps + spe - 1) / spe
	}
	pc.Task, pc.LearningRate = t.Name, h.LR
	return pc, h, nil
}
