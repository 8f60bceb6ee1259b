package finetune

import (
	"fmt"
	"math"

	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/dist"
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
	"github.com/compacter-go/compacter/t5/tokenizer"
)

// Hyper are the training hyper-parameters.
type Hyper struct {
	LR float64 `json:"learning_rate"`
	// Epochs over the training split.
	Epochs int `json:"epochs"`
	// Batch is the number of examples per optimizer step; MicroBatch the
	// number per forward/backward pass (Batch/MicroBatch passes are
	// accumulated, their losses averaged, as gradient_accumulation_steps).
	Batch      int `json:"batch"`
	MicroBatch int `json:"micro_batch"`
	// Warmup is the number of warm-up steps of the linear schedule.
	Warmup int `json:"warmup_steps"`
	// MaxLen is the maximum input length in tokens (</s> included); longer
	// inputs are truncated.
	MaxLen      int     `json:"max_source_length"`
	MaxGradNorm float64 `json:"max_grad_norm"`
	WeightDecay float64 `json:"weight_decay"`
}

// Defaults returns the official configuration's hyper-parameters of a
// method on a task (see the package documentation for their sources).
func Defaults(method peft.Method, task *glue.Task) (Hyper, error) {
	pc, err := peft.Default(method)
	if err != nil {
		return Hyper{}, err
	}
	h := Hyper{LR: pc.LearningRate, Epochs: 3, Batch: 100, MicroBatch: 100, Warmup: 500, MaxLen: 128, MaxGradNorm: 1}
	if task != nil && task.Small {
		h.Epochs = 20
	}
	if method == peft.PromptTuning || method == peft.IntrinsicSAID {
		h.MicroBatch = 50
	}
	return h, nil
}

// validate checks the hyper-parameters; a zero MicroBatch becomes Batch.
func (h Hyper) validate() (Hyper, error) {
	if h.MicroBatch == 0 {
		h.MicroBatch = h.Batch
	}
	switch {
	case !(h.LR > 0) || math.IsInf(h.LR, 0):
		return h, fmt.Errorf("finetune: learning rate %v must be positive", h.LR)
	case h.Epochs <= 0 || h.Batch <= 0 || h.MicroBatch <= 0:
		return h, fmt.Errorf("finetune: epochs %d, batch %d and micro-batch %d must be positive", h.Epochs, h.Batch, h.MicroBatch)
	case h.MicroBatch > h.Batch:
		return h, fmt.Errorf("finetune: micro-batch %d exceeds the batch %d", h.MicroBatch, h.Batch)
	case h.Warmup < 0:
		return h, fmt.Errorf("finetune: warm-up steps %d must not be negative", h.Warmup)
	case h.MaxLen < 2:
		return h, fmt.Errorf("finetune: max length %d leaves no room for a token and </s>", h.MaxLen)
	case h.MaxGradNorm < 0 || h.WeightDecay < 0:
		return h, fmt.Errorf("finetune: negative clipping norm %v or weight decay %v", h.MaxGradNorm, h.WeightDecay)
	}
	return h, nil
}

// Config describes one fine-tuning run.
type Config struct {
	// ModelDir holds the base checkpoint: config.json, the weights (any
	// layout t5.Load reads) and spiece.model; it may also be a model id in
	// the offline Hugging Face cache (t5.ResolveModel). Backend names the compute
	// backend to load it on ("" = kernels.Default).
	ModelDir string
	Backend  string
	// Model and Tokenizer replace ModelDir: a base model already on a
	// backend (without a method applied). Run applies the method to it and
	// removes it before returning (full fine-tuning leaves its weights
	// trained); the caller keeps ownership.
	Model     *t5.Model
	Tokenizer *tokenizer.T5

	// Method is the method to train; PEFT, when set, replaces
	// peft.Default(Method) (its Task field is set to the task's name).
	Method peft.Method
	PEFT   *peft.Config
	// Task is a GLUE task name (see glue.Lookup); DataDir the folder in
	// the GLUE layout that holds it.
	Task    string
	DataDir string
	// OutDir receives checkpoints, the best adapter and the reports.
	OutDir string

	// Hyper are the hyper-parameters; nil takes Defaults(Method, task)
	// with the PEFT config's learning rate.
	Hyper *Hyper
	// Seed seeds the data splits and order, the method's initialisation
	// and dropout (the paper's runs: 42).
	Seed uint64
	// TrainSamples > 0 trains on that many examples (the low-resource
	// experiment), chosen by a seeded shuffle.
	TrainSamples int
	// EvalSamples > 0 caps the validation and test examples scored.
	EvalSamples int
	// Resume continues from OutDir's checkpoint. Without it, an OutDir
	// that already holds a checkpoint is an error.
	Resume bool
	// SaveEvery > 0 also writes a checkpoint every that many steps.
	SaveEvery int
	// MaxSteps > 0 stops after that many optimizer steps in all (counting
	// those before a resume), with a checkpoint.
	MaxSteps int

	// Collective, when of more than one rank, makes this process one rank
	// of a data-parallel run (see the package documentation); nil or
	// dist.Local trains in one process.
	Collective dist.Collective
	// Reducer, with a Collective of several ranks, sums the gradients on
	// the device; nil takes dist.OpenDevice's (NCCL on the cuda backend,
	// else through host memory).
	Reducer dist.DeviceReducer

	// lossHook, for tests, replaces the loss of a step before it is
	// checked.
	lossHook func(step int, loss float64) float64
}
