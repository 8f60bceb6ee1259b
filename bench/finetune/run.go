package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/dist"
	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
	"github.com/compacter-go/compacter/t5/tokenizer"
)

// Progress phases.
const (
	PhaseTrain = "train"
	PhaseEval  = "eval"
	PhaseEpoch = "epoch"
	PhaseTest  = "test"
)

// Progress reports a finished training step (PhaseTrain), the start of an
// evaluation (PhaseEval on the validation split after an epoch, PhaseTest
// on the test split at the end) or a finished epoch with its evaluation
// (PhaseEpoch, with Report).
type Progress struct {
	Phase string
	// Epoch counts from 1 of Epochs; Step (optimizer steps taken, in all)
	// of TotalSteps.
	Epoch, Epochs    int
	Step, TotalSteps int
	// Loss is the step's loss; EpochLoss the mean loss of the epoch so far.
	Loss, EpochLoss float64
	LR, GradNorm    float64
	// ExamplesPerSec is the training speed of this run so far; ETA the
	// time the remaining steps take at that speed (evaluations excluded).
	ExamplesPerSec float64
	ETA            time.Duration
	// Report is the finished epoch (PhaseEpoch only).
	Report *EpochReport
	// StepSeconds is the step's time and ReduceSeconds the part of it
	// spent summing gradients across ranks (0 in one process).
	StepSeconds, ReduceSeconds float64
	// Rank and Ranks place this process in a data-parallel run (0 of 1
	// in one process).
	Rank, Ranks int
}

// Run fine-tunes cfg.Method on cfg.Task and returns the report it also
// writes to cfg.OutDir (see the package documentation). When ctx is
// cancelled it saves a checkpoint and returns the report with an error
// wrapping ctx.Err(); after cfg.MaxSteps steps it saves one and returns
// the report without error (Status StatusMaxSteps). progress, if not
// nil, is called after every step and before every evaluation.
func Run(ctx context.Context, cfg Config, progress func(Progress)) (rep *Report, err error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	if cfg.OutDir == "" || cfg.DataDir == "" {
		return nil, errors.New("finetune: OutDir and DataDir are required")
	}
	task, err := glue.Lookup(cfg.Task)
	if err != nil {
		return nil, err
	}
	var pc peft.Config
	switch {
	case cfg.PEFT != nil && cfg.Method != "" && cfg.PEFT.Method != cfg.Method:
		return nil, fmt.Errorf("finetune: method %q and PEFT config of %q differ", cfg.Method, cfg.PEFT.Method)
	case cfg.PEFT != nil:
		pc = *cfg.PEFT
	default:
		if pc, err = peft.Default(cfg.Method); err != nil {
			return nil, err
		}
	}
	pc.Task = task.Name
	var h Hyper
	if cfg.Hyper != nil {
		h = *cfg.Hyper
	} else {
		if h, err = Defaults(pc.Method, task); err != nil {
			return nil, err
		}
		h.LR = pc.LearningRate
	}
	if h, err = h.validate(); err != nil {
		return nil, err
	}
	coll := cfg.Collective
	if coll == nil {
		coll = dist.Local{}
	}
	var dp *ranks // nil in one process
	if coll.Size() > 1 {
		dp = &ranks{c: coll, sum: dist.Summer{C: coll, Device: cfg.Reducer}}
		h.MicroBatch = microSize(h, coll.Size())
	}
	lead := coll.Rank() == 0 // the rank that writes files
	pc.LearningRate = h.LR
	ckpt := filepath.Join(cfg.OutDir, CheckpointFile)
	if _, serr := os.Stat(ckpt); serr == nil && !cfg.Resume {
		return nil, fmt.Errorf("finetune: %s already holds a checkpoint: resume it or choose another output folder", cfg.OutDir)
	} else if serr != nil && cfg.Resume {
		return nil, fmt.Errorf("finetune: nothing to resume: %w", serr)
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	data, err := task.Load(cfg.DataDir, cfg.Seed, cfg.TrainSamples)
	if err != nil {
		return nil, err
	}
	if len(data.Train) == 0 || len(data.Validation) == 0 || len(data.Test) == 0 {
		return nil, fmt.Errorf("finetune: %s: empty split (%d train, %d validation, %d test)", task.Name, len(data.Train), len(data.Validation), len(data.Test))
	}
	if n := cfg.EvalSamples; n > 0 {
		data.Validation = data.Validation[:min(n, len(data.Validation))]
		data.Test = data.Test[:min(n, len(data.Test))]
	}

	m, tok, modelName := cfg.Model, cfg.Tokenizer, "(in memory)"
	if m == nil {
		if cfg.ModelDir == "" {
			return nil, errors.New("finetune: a model directory (or Model and Tokenizer) is required")
		}
		modelName = cfg.ModelDir
		if cfg.ModelDir, err = t5.ResolveModel(cfg.ModelDir); err != nil { // a model id in the offline Hugging Face cache
			return nil, err
		}
		var be kernels.Backend
		if cfg.Backend == "" {
			be, err = kernels.Default()
		} else {
			be, err = kernels.Open(cfg.Backend)
		}
		if err != nil {
			return nil, err
		}
		defer be.Close()
		spm, err := tokenizer.Load(cfg.ModelDir) // spiece.model or tokenizer.json
		if err != nil {
			return nil, err
		}
		if tok, err = tokenizer.NewT5(spm); err != nil {
			return nil, err
		}
		if m, err = t5.Load(cfg.ModelDir, be); err != nil {
			return nil, err
		}
		defer m.Close()
	} else if tok == nil {
		return nil, errors.New("finetune: Model needs a Tokenizer")
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("finetune: the tokenizer's %d ids exceed the model's vocabulary of %d", tok.VocabSize(), m.Config.VocabSize)
	}
	a, err := peft.Apply(m, pc, cfg.Seed)
	if err != nil {
		return nil, err
	}
	// The resolved configuration (e.g. Intrinsic-SAID's state version):
	// a checkpoint written with other projections does not resume.
	pc = a.Config
	defer func() {
		if rerr := a.Remove(); err == nil && rerr != nil {
			err = rerr
		}
	}()

	nTrain := len(data.Train)
	spe := (nTrain + h.Batch - 1) / h.Batch
	rep = &Report{Task: task.Name, Method: pc.Method, Model: modelName, Backend: m.Backend.Name(), Seed: cfg.Seed,
		Hyper: h, PEFT: pc, TrainExamples: nTrain, ValidationExamples: len(data.Validation), TestExamples: len(data.Test),
		SkippedRows: data.Skipped, TrainableParams: a.Trainable(), TotalParams: a.Total(),
		StepsPerEpoch: spe, TotalSteps: spe * h.Epochs, Status: StatusRunning,
		Ranks: coll.Size(), Collective: coll.Name(), GradientBytes: 4 * a.Trainable()}
	fp, _ := json.Marshal(struct {
		Task         string
		PEFT         peft.Config
		Hyper        Hyper
		Seed         uint64
		TrainSamples int
		Train        int
		Trainable    int64
	}{task.Name, pc, h, cfg.Seed, cfg.TrainSamples, nTrain, a.Trainable()})
	st := &state{Fingerprint: string(fp)}
	tr, err := newTrainer(m, h, rep.TotalSteps)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	if dp != nil {
		dp.sum.Backend = m.Backend
		note := "device all-reduce"
		if cfg.Reducer == nil {
			red, n, err := dist.OpenDevice(ctx, coll, m.Backend)
			if err != nil {
				return nil, err
			}
			if red != nil {
				defer red.Close()
			}
			dp.sum.Device, note = red, n
		}
		rep.Collective += " (" + note + ")"
	}
	if cfg.Resume {
		if st, err = loadCheckpoint(ckpt, a, tr); err != nil {
			return nil, err
		}
		if st.Fingerprint != string(fp) {
			return nil, fmt.Errorf("finetune: %s was written with other settings (%s), not %s", ckpt, st.Fingerprint, fp)
		}
		rep.Epochs, rep.BestEpoch, rep.BestScore = st.Report.Epochs, st.Report.BestEpoch, st.Report.BestScore
		rep.Steps = st.Step
	}
	save := func(status string) error {
		rep.Steps, rep.Status = tr.Steps(), status
		if dp != nil {
			rep.ReduceSeconds = dp.total.Seconds()
		}
		st.Step, st.Report = tr.Steps(), *rep
		var err error
		if lead {
			if err = saveCheckpoint(ckpt, a, tr, st); err == nil {
				err = rep.write(cfg.OutDir)
			}
		}
		if dp != nil {
			err = dp.agree(ctx, "writing the checkpoint", err)
		}
		return err
	}
	defer func() {
		if err != nil && rep.Status == StatusRunning && lead {
			rep.Status, rep.Error = "failed", err.Error()
			rep.write(cfg.OutDir) // best effort: the error is what matters
		}
	}()

	enc := encode(tok, data.Train, h.MaxLen)
	if dp != nil {
		if err := dp.checkSame(ctx, fp, m, enc, data, a); err != nil {
			return rep, err
		}
	}
	evaluate := func(ex []glue.Example) (glue.Result, error) {
		if dp != nil {
			return dp.evaluate(ctx, m, tok, task, ex, h.MicroBatch, h.MaxLen)
		}
		res, _, err := Evaluate(m, tok, task, ex, h.MicroBatch, h.MaxLen)
		return res, err
	}
	var runSteps, runExamples int
	var runSeconds float64
	for st.Epoch < h.Epochs {
		order := epochOrder(nTrain, cfg.Seed, st.Epoch)
		for st.Pos < nTrain {
			if cfg.MaxSteps > 0 && tr.Steps() >= cfg.MaxSteps {
				return rep, save(StatusMaxSteps)
			}
			if cerr := ctx.Err(); cerr != nil && dp == nil {
				if err := save(StatusInterrupted); err != nil {
					return rep, err
				}
				return rep, fmt.Errorf("finetune: interrupted after step %d, checkpoint saved in %s: %w", tr.Steps(), cfg.OutDir, cerr)
			}
			idx := order[st.Pos:min(st.Pos+h.Batch, nTrain)]
			var micro []t5.Batch
			for lo := 0; lo < len(idx); lo += h.MicroBatch {
				b := makeBatch(enc, idx[lo:min(lo+h.MicroBatch, len(idx))])
				b.DropoutSeed = microSeed(cfg.Seed, tr.Steps(), len(micro))
				micro = append(micro, b)
			}
			m.SetTraining(true, dropoutSeed(cfg.Seed, tr.Steps()))
			t0 := time.Now()
			var res t5.StepResult
			stop := false
			if dp != nil {
				res, err = dp.step(ctx, tr, share(micro, dp.rank(), dp.size()), cfg.lossHook, &stop)
			} else {
				res, err = step(tr, micro, cfg.lossHook)
			}
			if err != nil {
				return rep, err
			}
			dt := time.Since(t0).Seconds()
			st.Pos += len(idx)
			st.EpochLoss += res.Loss
			st.EpochSteps++
			st.EpochSeconds += dt
			runSteps++
			runExamples += len(idx)
			runSeconds += dt
			perStep := runSeconds / float64(runSteps)
			pr := Progress{Phase: PhaseTrain, Epoch: st.Epoch + 1, Epochs: h.Epochs, Step: tr.Steps(), TotalSteps: rep.TotalSteps,
				Loss: res.Loss, EpochLoss: st.EpochLoss / float64(st.EpochSteps), LR: res.LR, GradNorm: res.GradNorm,
				ExamplesPerSec: float64(runExamples) / runSeconds,
				ETA:            time.Duration(perStep * float64(rep.TotalSteps-tr.Steps()) * float64(time.Second)),
				StepSeconds:    dt, Rank: coll.Rank(), Ranks: coll.Size()}
			if dp != nil {
				pr.ReduceSeconds = dp.reduce.Seconds()
			}
			progress(pr)
			if stop {
				if err := save(StatusInterrupted); err != nil {
					return rep, err
				}
				cerr := ctx.Err()
				if cerr == nil {
					cerr = context.Canceled // another rank's
				}
				return rep, fmt.Errorf("finetune: interrupted after step %d, checkpoint saved in %s: %w", tr.Steps(), cfg.OutDir, cerr)
			}
			if cfg.SaveEvery > 0 && tr.Steps()%cfg.SaveEvery == 0 {
				if err := save(StatusRunning); err != nil {
					return rep, err
				}
			}
		}
		progress(Progress{Phase: PhaseEval, Epoch: st.Epoch + 1, Epochs: h.Epochs, Step: tr.Steps(), TotalSteps: rep.TotalSteps})
		t0 := time.Now()
		res, err := evaluate(data.Validation)
		if err != nil {
			return rep, err
		}
		er := EpochReport{Epoch: st.Epoch + 1, Steps: tr.Steps(), TrainSeconds: st.EpochSeconds,
			EvalSeconds: time.Since(t0).Seconds(), Validation: res, LR: tr.LR(max(0, tr.Steps()-1))}
		if st.EpochSteps > 0 {
			er.TrainLoss = st.EpochLoss / float64(st.EpochSteps)
		}
		if st.EpochSeconds > 0 {
			er.ExamplesPerSec = float64(nTrain) / st.EpochSeconds
		}
		if rep.BestEpoch == 0 || res.Score > rep.BestScore {
			var err error
			if lead {
				err = saveBest(cfg.OutDir, a)
			}
			if dp != nil {
				err = dp.agree(ctx, "saving the best method", err)
			}
			if err != nil {
				return rep, err
			}
			er.Best, rep.BestEpoch, rep.BestScore = true, er.Epoch, res.Score
		}
		rep.Epochs = append(rep.Epochs, er)
		progress(Progress{Phase: PhaseEpoch, Epoch: st.Epoch + 1, Epochs: h.Epochs, Step: tr.Steps(), TotalSteps: rep.TotalSteps, Report: &er})
		st.Epoch, st.Pos, st.EpochLoss, st.EpochSteps, st.EpochSeconds = st.Epoch+1, 0, 0, 0, 0
		if err := save(StatusRunning); err != nil {
			return rep, err
		}
	}
	if err := a.LoadTensors(filepath.Join(cfg.OutDir, BestDir, peft.TensorsFile)); err != nil {
		return rep, err
	}
	progress(Progress{Phase: PhaseTest, Epoch: h.Epochs, Epochs: h.Epochs, Step: tr.Steps(), TotalSteps: rep.TotalSteps})
	res, err := evaluate(data.Test)
	if err != nil {
		return rep, err
	}
	rep.Test, rep.Status, rep.Steps = &res, StatusFinished, tr.Steps()
	if dp != nil {
		rep.ReduceSeconds = dp.total.Seconds()
	}
	if !lead {
		return rep, nil
	}
	return rep, rep.write(cfg.OutDir)
}
