// Package bench measures the Compacter paper's efficiency table on this
// machine: for full fine-tuning and each of the ten parameter-efficient
// methods (peft.Methods, in the paper's order) it builds a T5 model, applies
// the method with the paper's settings, trains a few steps and reports the
// trained parameters (count and share of the model), the backend's peak
// memory, the time per epoch (a fixed number of examples) — the last two also
// as Δ% against full fine-tuning — and a score: the task metric when a task
// is given (Options.WithTask for a GLUE task, or any Options.Score),
// otherwise the final training loss.
//
// # What is measured
//
// Every method runs on a fresh backend (kernels.Open) with a fresh model, so
// that nothing one method allocated counts for the next; everything is freed
// before the next method starts. The model has deterministic random weights
// (t5.Model.InitWeights(Seed)) of a preset shape, or a checkpoint's weights
// (Options.ModelDir). The batches come from a seeded stream
// (CopyStream: random token ids, the target repeats the input) unless
// Options.Data gives others, and every method sees the same batches. One
// warm-up step (it allocates the optimizer state) is not timed; then the
// backend's peak is reset and Steps steps are timed:
//
//   - Memory is kernels.MemStats.Peak over the timed steps: weights,
//     gradients, AdamW moments, activations and scratch (the backend's own
//     count, not the process's).
//   - Time per epoch is the median seconds per step × EpochExamples / Batch.
//   - The final loss is the mean training loss of the last (up to three)
//     timed steps.
//
// The optimizer is AdamW at the method's learning rate from the paper's
// configs, constant (no warm-up, so that a few steps move the weights), with
// the global gradient norm clipped to 1, and dropout at the model's rate.
//
// Without a pretrained checkpoint and a task the score column is the
// training loss of a model with random weights on random tokens: a sanity
// signal of how far each method gets in a few steps, not the paper's GLUE
// score, and not comparable to it. The parameter, memory and time columns
// measure what the paper's do, on this machine and at the chosen shape.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/compacter-go/compacter/dist"
	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
)

// ErrOptions reports invalid Options.
var ErrOptions = errors.New("bench: invalid options")

// The embedded default run: a t5-small-shaped model, batches of 4 × 64
// tokens, 5 timed steps per method, an epoch of 1000 examples (all eleven
// methods in about two minutes on 2 cores).
const (
	DefaultShape         = "t5-small"
	DefaultBatch         = 4
	DefaultSeq           = 64
	DefaultSteps         = 5
	DefaultEpochExamples = 1000
	DefaultSeed          = 1
)

// DefaultMaxGradNorm is the global gradient-norm clipping of the methods'
// trainers unless Options.MaxGradNorm says otherwise: the paper's and the
// Hugging Face Trainer's max_grad_norm.
const DefaultMaxGradNorm = 1.0

// Options configure Run. Zero fields take the defaults above; negative
// numbers are errors.
type Options struct {
	// Shape is the t5.Preset of the model ("t5-small", "t5-base", …).
	Shape string
	// Model, when its VocabSize is set, is the model configuration and
	// Shape is ignored (tests use tiny ones).
	Model t5.Config
	// ModelDir is a Hugging Face T5 checkpoint directory (config.json,
	// model.safetensors): its configuration and weights replace Shape,
	// Model and the random initialisation.
	ModelDir string
	// Backend is a registered backend name; empty means the default
	// (COMPACTER_BACKEND, else the best available).
	Backend string
	// Batch is the number of sequences per step; Seq the encoder and the
	// decoder length of the built-in stream unless SourceLen or TargetLen
	// set them apart (a GLUE target is a few tokens long: the paper's
	// shapes are source 128, target 16). With a task (WithTask) Seq cuts
	// the inputs and the batches are padded to their longest row.
	Batch, Seq int
	SourceLen  int
	TargetLen  int
	// Threads, when positive, is GOMAXPROCS during Run (the cpu backend's
	// and the Fastfood transform's goroutines); 0 keeps the process's.
	Threads int
	// Dropout, when not nil, replaces the model's dropout rate (the
	// official code's step benchmark runs with dropout 0).
	Dropout *float64
	// MaxGradNorm, when not nil, replaces the global gradient-norm clipping
	// of every method's trainer (default DefaultMaxGradNorm, the paper's
	// and the Hugging Face Trainer's; 0 turns clipping off, as in the
	// official code's step benchmark, which times forward, backward and
	// AdamW only; the step is then t5.Trainer's fused one, which holds one
	// block's gradients at a time).
	MaxGradNorm *float64
	// Steps is the number of timed steps per method, after one warm-up.
	Steps int
	// EpochExamples is the number of examples of one epoch in the time
	// column.
	EpochExamples int
	// Methods are the rows, in this order; nil means peft.Methods (full
	// fine-tuning first). The Δ% columns need FullFinetune among them.
	Methods []peft.Method
	// Seed seeds the weights, the methods' tensors, dropout and the
	// built-in stream.
	Seed uint64
	// Data, when set, returns the batch stream of one method (called once
	// per method; every call should yield the same batches). Nil means
	// CopyStream(vocab, Batch, Seq, Seed).
	Data func(vocab int) (Stream, error)
	// Score, when set, is evaluated on the trained model of every method
	// and fills the score column; ScoreName names it ("rte accuracy").
	Score     func(ctx context.Context, m *t5.Model) (float64, error)
	ScoreName string
	// Collective, when of more than one rank, makes this process one rank
	// of a data-parallel measurement: every rank takes its share of the
	// rows of each batch and the gradients are summed across the ranks
	// every step (within the timed step). Nil means one process.
	Collective dist.Collective
	// Reducer, with such a Collective, sums the gradients on the device;
	// nil takes dist.OpenDevice's (NCCL on the cuda backend).
	Reducer dist.DeviceReducer
}

// Event reports progress to Run's callback.
type Event struct {
	// Index (1-based) of the method among Methods.
	Index, Methods int
	Method         peft.Method
	// Phase is "setup" (building the model and applying the method),
	// "step" (after a step: Step of Steps; Step 0 is the warm-up), "score"
	// or "done" (Row is set).
	Phase       string
	Step, Steps int
	// Loss is the loss of the step that just ran (Phase "step").
	Loss float64
	// Done is the fraction of the run's work done (counted in steps, with
	// the setup of a method as one); Elapsed is the time since Run started
	// and ETA estimates the time left from both.
	Done         float64
	Elapsed, ETA time.Duration
	// Row is the method's finished row (Phase "done"), valid during the
	// callback.
	Row *Row
}

// Row is one method's measurements. Δ fields are NaN when the table has
// no full fine-tuning row to compare with, and for that row itself.
type Row struct {
	Method peft.Method
	// Name is the row's name in the paper ("Compacter++").
	Name string
	// Trainable and Total are the method's parameter counts; Percent is
	// 100·Trainable / the base model's parameter count (the paper's
	// convention: at t5-base with vocabulary 32100 its denominator is
	// peft.T5BaseDenominator).
	Trainable, Total int64
	Percent          float64
	// PeakBytes is the backend's peak over the timed steps; MemoryMiB the
	// same in MiB and MemoryDelta its change against full fine-tuning, %.
	PeakBytes   int64
	MemoryMiB   float64
	MemoryDelta float64
	// SecPerStep is the median time of the timed steps; EpochSeconds that ×
	// EpochExamples / Batch; TimeDelta its change against full
	// fine-tuning, %. ExamplesPerSec is the examples of the timed steps
	// over their total time (with a task's stream the steps differ in
	// length, and the epoch time is EpochExamples / ExamplesPerSec).
	SecPerStep     float64
	ExamplesPerSec float64
	EpochSeconds   float64
	TimeDelta      float64
	// Losses are the training losses of the warm-up and the timed steps;
	// FinalLoss is the mean of the last (up to three) of them.
	Losses    []float64
	FinalLoss float64
	// Score is the task metric after training (NaN without Options.Score).
	Score float64
	// ReduceSecPerStep is the median time of the timed steps' gradient
	// all-reduce across ranks (0 in one process), part of SecPerStep;
	// GradientBytes the bytes summed per step (4 per trainable parameter).
	ReduceSecPerStep float64 `json:",omitempty"`
	GradientBytes    int64   `json:",omitempty"`
	// Note says where the paper's settings were adapted to the shape
	// (AdapterDrop's blocks, PHM's n, the prompt length), empty if not.
	Note string
}

// Value is the plotted score: Score when there is one, else FinalLoss.
func (r Row) Value() float64 {
	if !math.IsNaN(r.Score) {
		return r.Score
	}
	return r.FinalLoss
}

// Table is the result of Run.
type Table struct {
	// Shape names the model ("t5-small", "custom" or the checkpoint
	// directory); Pretrained reports whether its weights were loaded.
	Shape      string
	Pretrained bool
	// BaseParams is the base model's parameter count.
	BaseParams int64
	Backend    string
	// Batch, Seq, Steps, EpochExamples and Seed are the options the table
	// was measured with (after defaults); SourceLen and TargetLen the
	// lengths of the built-in stream (0 with a task's stream: real lengths),
	// Threads GOMAXPROCS during the run, Dropout the dropout rate and
	// MaxGradNorm the clipping norm (0: none).
	Batch, Seq, Steps, EpochExamples int
	SourceLen, TargetLen, Threads    int
	Dropout, MaxGradNorm             float64
	Seed                             uint64
	// ScoreName names the score column: "final loss" without a task.
	ScoreName string
	// Ranks is the number of data-parallel processes (0 or 1: one) and
	// Collective their communication.
	Ranks      int    `json:",omitempty"`
	Collective string `json:",omitempty"`
	// Rows are the methods in the order they ran.
	Rows []Row
	// Elapsed is the wall time of the whole run.
	Elapsed time.Duration
}

// paperNames are the rows' names in the paper's table.
var paperNames = map[peft.Method]string{
	peft.FullFinetune: "Full fine-tuning", peft.Adapter: "Adapter", peft.Pfeiffer: "Pfeiffer-Adapter",
	peft.AdapterDrop: "AdapterDrop", peft.AdapterLowRank: "Adapter-LowRank", peft.PromptTuning: "Prompt Tuning",
	peft.IntrinsicSAID: "Intrinsic-SAID", peft.BitFit: "BitFit", peft.PHMAdapter: "PHM-Adapter",
	peft.Compacter: "Compacter", peft.CompacterPP: "Compacter++",
}

// Name returns the paper's name of a method's row.
func Name(m peft.Method) string {
	if n, ok := paperNames[m]; ok {
		return n
	}
	return string(m)
}

// ParseMethods parses a comma-separated list of method names
// ("full-finetune,adapter,compacter"); "all" or "" means peft.Methods.
func ParseMethods(s string) ([]peft.Method, error) {
	if s == "" || s == "all" {
		return slices.Clone(peft.Methods), nil
	}
	var out []peft.Method
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		m := peft.Method(f)
		if !slices.Contains(peft.Methods, m) {
			return nil, fmt.Errorf("%w: unknown method %q (known: %s)", ErrOptions, f, methodList())
		}
		if slices.Contains(out, m) {
			return nil, fmt.Errorf("%w: method %q given twice", ErrOptions, f)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty method list", ErrOptions)
	}
	return out, nil
}

func methodList() string {
	names := make([]string, len(peft.Methods))
	for i, m := range peft.Methods {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// MethodConfig returns the paper's settings of a method (peft.Default),
// adapted to a model shape where they cannot apply as they are, and a note
// saying what was adapted (empty if nothing):
//   - AdapterDrop keeps adapters in blocks 5–11 of 12; a model with fewer
//     blocks keeps them in the same share of its top blocks;
//   - the reduction factor becomes the largest divisor of d_model not above
//     the paper's 32;
//   - PHM's n becomes the largest value not above the paper's that divides
//     d_model and the bottleneck (PHM-Adapter's n = 12 does not divide
//     t5-small's bottleneck of 16: n = 8 there);
//   - the prompt length is at most the vocabulary size.
func MethodConfig(cfg t5.Config, m peft.Method) (peft.Config, string, error) {
	c, err := peft.Default(m)
	if err != nil {
		return c, "", err
	}
	var notes []string
	if m == peft.AdapterDrop && cfg.NumLayers < 12 {
		enc := topBlocks(cfg.NumLayers)
		dec := topBlocks(cfg.NumDecoderLayers)
		c.TaskAdapterLayersEncoder, c.TaskAdapterLayersDecoder = enc, dec
		notes = append(notes, fmt.Sprintf("adapters in encoder blocks %s and decoder blocks %s (the paper: 5–11 of 12)",
			blockRange(enc), blockRange(dec)))
	}
	if cfg.DModel > 0 && cfg.DModel%c.ReductionFactor != 0 {
		r := c.ReductionFactor
		for cfg.DModel%c.ReductionFactor != 0 {
			c.ReductionFactor--
		}
		notes = append(notes, fmt.Sprintf("reduction factor %d → %d", r, c.ReductionFactor))
	}
	if c.HypercomplexAdapters {
		n := c.PHMDim
		for c.PHMDim > 1 && c.Validate(cfg.DModel) != nil {
			c.PHMDim--
		}
		if c.PHMDim != n {
			notes = append(notes, fmt.Sprintf("phm_dim %d → %d (n must divide d_model %d and the bottleneck %d)",
				n, c.PHMDim, cfg.DModel, cfg.DModel/c.ReductionFactor))
		}
	}
	if m == peft.PromptTuning && c.PrefixDim > cfg.VocabSize {
		notes = append(notes, fmt.Sprintf("prompt length %d → %d (the vocabulary)", c.PrefixDim, cfg.VocabSize))
		c.PrefixDim = cfg.VocabSize
	}
	if err := c.Validate(cfg.DModel); err != nil {
		return c, "", fmt.Errorf("bench: %s on d_model %d: %w", m, cfg.DModel, err)
	}
	return c, strings.Join(notes, "; "), nil
}

// topBlocks are the top 7/12 of n blocks (blocks 5–11 of 12), at least one.
func topBlocks(n int) []int {
	out := []int{}
	for i := min(n*5/12, n-1); i < n; i++ {
		out = append(out, i)
	}
	return out
}

func blockRange(b []int) string {
	switch len(b) {
	case 0:
		return "none"
	case 1:
		return fmt.Sprint(b[0])
	}
	return fmt.Sprintf("%d–%d", b[0], b[len(b)-1])
}

// resolved are Options after defaults, with the model configuration.
type resolved struct {
	Options
	cfg     t5.Config
	shape   string
	backend string
}

func (o Options) resolve() (resolved, error) {
	r := resolved{Options: o}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{{"batch", &r.Batch, DefaultBatch}, {"seq", &r.Seq, DefaultSeq}, {"steps", &r.Steps, DefaultSteps},
		{"epoch examples", &r.EpochExamples, DefaultEpochExamples}, {"source length", &r.SourceLen, -1},
		{"target length", &r.TargetLen, -1}, {"threads", &r.Threads, -1}} {
		if *f.v < 0 {
			return r, fmt.Errorf("%w: %s %d must be positive", ErrOptions, f.name, *f.v)
		}
		if *f.v == 0 && f.def > 0 {
			*f.v = f.def
		}
	}
	if r.SourceLen == 0 {
		r.SourceLen = r.Seq
	}
	if r.TargetLen == 0 {
		r.TargetLen = r.Seq
	}
	if r.Dropout != nil && (*r.Dropout < 0 || *r.Dropout >= 1 || math.IsNaN(*r.Dropout)) {
		return r, fmt.Errorf("%w: dropout %v must be in [0, 1)", ErrOptions, *r.Dropout)
	}
	if r.MaxGradNorm != nil && !(*r.MaxGradNorm >= 0) {
		return r, fmt.Errorf("%w: max grad norm %v must be ≥ 0", ErrOptions, *r.MaxGradNorm)
	}
	if r.MaxGradNorm == nil {
		v := DefaultMaxGradNorm
		r.MaxGradNorm = &v
	}
	if r.Seed == 0 {
		r.Seed = DefaultSeed
	}
	if r.Methods == nil {
		r.Methods = slices.Clone(peft.Methods)
	}
	if len(r.Methods) == 0 {
		return r, fmt.Errorf("%w: no methods", ErrOptions)
	}
	for i, m := range r.Methods {
		if _, err := peft.Default(m); err != nil {
			return r, fmt.Errorf("%w: %v", ErrOptions, err)
		}
		if slices.Contains(r.Methods[:i], m) {
			return r, fmt.Errorf("%w: method %q given twice", ErrOptions, m)
		}
	}
	if (r.Score == nil) != (r.ScoreName == "") {
		return r, fmt.Errorf("%w: Score and ScoreName go together", ErrOptions)
	}
	var err error
	switch {
	case r.ModelDir != "":
		if r.cfg, err = t5.LoadConfig(r.ModelDir + "/config.json"); err != nil {
			return r, fmt.Errorf("%w: model: %v", ErrOptions, err)
		}
		r.shape = r.ModelDir
	case r.Model.VocabSize > 0:
		r.cfg, r.shape = r.Model, "custom"
	default:
		if r.Shape == "" {
			r.Shape = DefaultShape
		}
		if r.cfg, err = t5.Preset(r.Shape); err != nil {
			return r, fmt.Errorf("%w: shape: %v", ErrOptions, err)
		}
		r.shape = r.Shape
	}
	if r.Dropout != nil {
		r.cfg.DropoutRate = *r.Dropout
	}
	if err := r.cfg.Validate(); err != nil {
		return r, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	for _, m := range r.Methods {
		if _, _, err := MethodConfig(r.cfg, m); err != nil {
			return r, fmt.Errorf("%w: %v", ErrOptions, err)
		}
	}
	r.backend = r.Backend
	if r.backend == "" {
		r.backend = os.Getenv(kernels.EnvBackend)
	}
	if r.backend == "" {
		if r.backend, err = kernels.Best(); err != nil {
			return r, err
		}
	}
	be, err := kernels.Open(r.backend)
	if err != nil {
		return r, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	return r, be.Close()
}

// Run measures every method of o.Methods in turn and returns the table.
// progress, when not nil, is called from Run's goroutine as it goes. When
// ctx is cancelled Run stops at the next step and returns the rows
// finished so far with an error wrapping ctx.Err().
func Run(ctx context.Context, o Options, progress func(Event)) (*Table, error) {
	r, err := o.resolve()
	if err != nil {
		return nil, err
	}
	if r.Threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(r.Threads))
	}
	t := &Table{Shape: r.shape, Pretrained: r.ModelDir != "", BaseParams: r.cfg.NumParams(), Backend: r.backend,
		Batch: r.Batch, Seq: r.Seq, Steps: r.Steps, EpochExamples: r.EpochExamples, Seed: r.Seed,
		SourceLen: r.SourceLen, TargetLen: r.TargetLen, Threads: runtime.GOMAXPROCS(0), Dropout: r.cfg.DropoutRate,
		MaxGradNorm: *r.MaxGradNorm, ScoreName: "final loss"}
	if r.Data != nil {
		t.SourceLen, t.TargetLen = 0, 0
	}
	if r.Score != nil {
		t.ScoreName = r.ScoreName
	}
	if c := r.Collective; c != nil && c.Size() > 1 {
		t.Ranks, t.Collective = c.Size(), c.Name()
	}
	start := time.Now()
	// Progress is counted in units: per method, setup, warm-up, the timed
	// steps and the score.
	per := r.Steps + 2
	if r.Score != nil {
		per++
	}
	total := per * len(r.Methods)
	emit := func(e Event, done int) {
		if progress == nil {
			return
		}
		e.Methods, e.Steps = len(r.Methods), r.Steps
		e.Elapsed = time.Since(start)
		e.Done = float64(done) / float64(total)
		if done > 0 {
			e.ETA = time.Duration(float64(e.Elapsed) * float64(total-done) / float64(done))
		}
		progress(e)
	}
	for i, m := range r.Methods {
		row, err := r.runMethod(ctx, m, func(e Event, units int) {
			e.Index, e.Method = i+1, m
			emit(e, i*per+units)
		})
		runtime.GC()
		debug.FreeOSMemory()
		if err != nil {
			t.Elapsed = time.Since(start)
			return t, fmt.Errorf("bench: %s: %w", m, err)
		}
		t.Rows = append(t.Rows, row)
		t.fillDeltas()
		emit(Event{Index: i + 1, Method: m, Phase: "done", Row: &t.Rows[i]}, (i+1)*per)
	}
	t.Elapsed = time.Since(start)
	return t, nil
}

// fillDeltas sets the Δ% columns against the full fine-tuning row.
func (t *Table) fillDeltas() {
	ref := -1
	for i, r := range t.Rows {
		if r.Method == peft.FullFinetune {
			ref = i
		}
	}
	for i := range t.Rows {
		r := &t.Rows[i]
		r.MemoryDelta, r.TimeDelta = math.NaN(), math.NaN()
		if ref >= 0 && i != ref {
			r.MemoryDelta = Delta(r.MemoryMiB, t.Rows[ref].MemoryMiB)
			r.TimeDelta = Delta(r.EpochSeconds, t.Rows[ref].EpochSeconds)
		}
	}
}

// median is the median of xs (the mean of the middle two for an even
// count); xs is sorted in place.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// Delta is the change of x against ref in percent: 100·(x/ref − 1).
func Delta(x, ref float64) float64 { return 100 * (x/ref - 1) }

// runMethod measures one method on a fresh backend and model.
func (r resolved) runMethod(ctx context.Context, meth peft.Method, progress func(Event, int)) (row Row, err error) {
	row = Row{Method: meth, Name: Name(meth), Score: math.NaN(), MemoryDelta: math.NaN(), TimeDelta: math.NaN()}
	if err := ctx.Err(); err != nil {
		return row, err
	}
	progress(Event{Phase: "setup"}, 0)
	be, err := kernels.Open(r.backend)
	if err != nil {
		return row, err
	}
	defer func() { err = errors.Join(err, be.Close()) }()
	var m *t5.Model
	if r.ModelDir != "" {
		m, err = t5.Load(r.ModelDir, be)
	} else {
		m, err = t5.New(r.cfg, be)
		if err == nil {
			err = m.InitWeights(r.Seed)
		}
	}
	if m != nil {
		defer func() { err = errors.Join(err, m.Close()) }()
	}
	if err != nil {
		return row, err
	}
	pc, note, err := MethodConfig(r.cfg, meth)
	if err != nil {
		return row, err
	}
	row.Note = note
	a, err := peft.Apply(m, pc, r.Seed)
	if err != nil {
		return row, err
	}
	row.Trainable, row.Total = a.Trainable(), a.Total()
	row.Percent = 100 * float64(row.Trainable) / float64(r.cfg.NumParams())
	m.SetTraining(r.cfg.DropoutRate > 0, r.Seed)
	tr, err := t5.NewTrainer(m, t5.TrainConfig{LR: pc.LearningRate, MaxGradNorm: *r.MaxGradNorm})
	if err != nil {
		return row, err
	}
	defer func() { err = errors.Join(err, tr.Close()) }()
	var stream Stream
	if r.Data != nil {
		stream, err = r.Data(r.cfg.VocabSize)
	} else {
		stream, err = CopyStreamLen(r.cfg.VocabSize, r.Batch, r.SourceLen, r.TargetLen, r.Seed)
	}
	if err != nil {
		return row, err
	}
	var times, reduces []float64
	var examples int
	var dp *dist.Summer
	if c := r.Collective; c != nil && c.Size() > 1 {
		dp = &dist.Summer{C: c, Device: r.Reducer, Backend: be}
		if dp.Device == nil {
			red, note, err := dist.OpenDevice(ctx, c, be)
			if err != nil {
				return row, err
			}
			if red != nil {
				defer red.Close()
			}
			dp.Device = red
			if strings.HasPrefix(note, "host all-reduce:") { // a device backend that could not
				row.Note = strings.TrimPrefix(row.Note+"; "+note, "; ")
			}
		}
		row.GradientBytes = 4 * row.Trainable
	}
	for s := 0; s <= r.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return row, err
		}
		b, err := stream.Next()
		if err != nil {
			return row, fmt.Errorf("batch %d: %w", s, err)
		}
		if s == 1 {
			be.ResetPeak()
		}
		t0 := time.Now()
		var res t5.StepResult
		var red time.Duration
		if dp == nil {
			res, err = tr.Step([]t5.Batch{b})
		} else {
			res, err = stepShared(ctx, tr, dp, b, &red)
		}
		if err != nil {
			return row, fmt.Errorf("step %d: %w", s, err)
		}
		if s > 0 {
			times = append(times, time.Since(t0).Seconds())
			examples += b.B
			reduces = append(reduces, red.Seconds())
		}
		row.Losses = append(row.Losses, res.Loss)
		progress(Event{Phase: "step", Step: s, Loss: res.Loss}, s+2)
	}
	row.PeakBytes = be.Mem().Peak
	row.MemoryMiB = float64(row.PeakBytes) / (1 << 20)
	var total float64
	for _, x := range times {
		total += x
	}
	row.ExamplesPerSec = float64(examples) / total
	row.SecPerStep = median(times)
	if dp != nil {
		row.ReduceSecPerStep = median(reduces)
	}
	row.EpochSeconds = row.SecPerStep * float64(r.EpochExamples) / float64(r.Batch)
	if r.Data != nil {
		// Real data: steps differ in length (dynamic padding), so the epoch
		// is timed by the examples/s of all timed steps, not by the median.
		row.EpochSeconds = float64(r.EpochExamples) / row.ExamplesPerSec
	}
	last := row.Losses[max(1, len(row.Losses)-3):]
	for _, l := range last {
		row.FinalLoss += l / float64(len(last))
	}
	if r.Score != nil {
		if err := ctx.Err(); err != nil {
			return row, err
		}
		m.SetTraining(false, 0)
		if row.Score, err = r.Score(ctx, m); err != nil {
			return row, fmt.Errorf("score: %w", err)
		}
		progress(Event{Phase: "score"}, r.Steps+3)
	}
	return row, nil
}

// stepShared is one data-parallel step of a rank: its share of b's rows
// (rows [r·B/n, (r+1)·B/n)), the gradients summed across the ranks by dp;
// *red receives the time of the sum.
func stepShared(ctx context.Context, tr *t5.Trainer, dp *dist.Summer, b t5.Batch, red *time.Duration) (t5.StepResult, error) {
	r, n := dp.C.Rank(), dp.C.Size()
	var mine []t5.Batch
	if lo, hi := r*b.B/n, (r+1)*b.B/n; hi > lo {
		mine = []t5.Batch{b.Rows(lo, hi)}
	}
	res, err := tr.BackwardShared(mine, func(ps []*t5.Param, sc []float32) error {
		t0 := time.Now()
		defer func() { *red = time.Since(t0) }()
		gs := make([]kernels.Buffer, len(ps))
		for i, p := range ps {
			gs[i] = p.G
		}
		return dp.Sum(ctx, gs, sc)
	})
	if err != nil {
		return res, err
	}
	return res, tr.Update()
}
