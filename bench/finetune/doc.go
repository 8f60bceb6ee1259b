// Package finetune fine-tunes a T5 model on a GLUE task with one of the
// methods of the Compacter paper, as the official Compacter code's
// run_seq2seq.py does: text-to-text examples (package glue), teacher-forced
// cross-entropy on the label words, AdamW with a linear warm-up and decay,
// evaluation after every epoch by greedy generation and the task's metric,
// the best epoch's adapter kept, and the test split scored with it.
//
// # Use
//
//	rep, err := finetune.Run(ctx, finetune.Config{
//		ModelDir: "t5-base", Method: peft.Compacter, Task: "rte",
//		DataDir: "glue_data", OutDir: "out/rte-compacter", Seed: 42,
//	}, func(p finetune.Progress) { fmt.Println(p.Step, p.Loss) })
//
// Evaluate scores a model (with or without a method applied) on examples
// by generation, for callers that train by other means.
//
// # Files in OutDir
//
//	checkpoint.safetensors   trainable tensors, AdamW moments and the
//	                         trainer state (metadata "trainer_state")
//	best/                    the best epoch's method: adapter_config.json +
//	                         adapter_model.safetensors (peft.Save/peft.Load)
//	report.json, report.md   every epoch: loss, validation metrics, time
//
// Every file is written to a temporary name and renamed, so a crash leaves
// the previous version intact. A checkpoint is written after every epoch,
// every Config.SaveEvery steps, when the context is cancelled (Ctrl-C) and
// when Config.MaxSteps is reached; Config.Resume continues from it exactly:
// the data order of an epoch and the dropout masks of a step are drawn
// from the seed, the epoch and the step, so a resumed run takes the same
// steps as an uninterrupted one. A loss or gradient norm that is NaN or
// infinite stops the run with ErrNonFinite before the update, leaving the
// last checkpoint as it was.
//
// # Data-parallel runs
//
// With a Config.Collective of several ranks (compacter train under
// mpirun: see package dist) every rank runs Run with the same Config.
// Each step's global batch is cut into micro-batches of at most
// ceil(Batch/ranks) examples (Hyper.MicroBatch is lowered to that, and
// the report says so), and rank r takes micro-batches r, r+ranks, …; the
// gradients of the trainable tensors, the losses and a stop flag are summed
// across the ranks (one all-reduce a step: dist.Summer, through host
// memory, or on the GPUs with NCCL where the backend offers it), and every
// rank then takes the step one process would take with the same
// micro-batches, up to the order of the float32 sums: the learning-rate
// schedule, clipping, and each micro-batch's dropout masks
// (t5.Batch.DropoutSeed) are those of one process. The bytes summed per
// step are 4 per trainable parameter (Report.GradientBytes): 0.65 MB for
// Compacter at t5-base (161,728 trained parameters), 892 MB for full
// fine-tuning (222,903,552; compacter params lists every method).
//
// At the start the ranks compare the SHA-256 of their settings, of their
// tokenized data and of the tensors they start from (after a resume), and
// refuse to run when they differ. Rank 0 alone writes the checkpoints, the
// reports and the best method; the other ranks wait for it at a barrier
// after every write, and every rank reads OutDir to resume and for the
// best method at the end (so OutDir must be a folder every rank sees,
// which it is on one machine). Evaluation by generation is split across
// the ranks and the predictions gathered. A stop request (ctx cancelled on
// any rank) travels with the step's sums, so that every rank saves and
// stops after the same step. A rank that dies or hangs makes the others'
// next collective fail after the collective's timeout
// (dist.Options.Timeout), with the last checkpoint as it was.
//
// # Defaults
//
// Defaults gives the official repository's configuration files
// (seq2seq/configs/*.json of rabeehk/compacter, the runs of the paper's
// Table 1): learning rate per method from peft.Default (3e-4 for full
// fine-tuning, Adapter, Pfeiffer, AdapterDrop and BitFit; 3e-3 for
// Adapter-LowRank, PHM-Adapter, Compacter and Compacter++; 3e-2 for
// Intrinsic-SAID; 3e-1 for prompt tuning), batch 100 (prompt tuning and
// Intrinsic-SAID: 50 × 2 accumulation steps), 500 warm-up steps, source
// length 128, 20 epochs for the small tasks (CoLA, MRPC, RTE, STS-B) and 3
// for the others (the comment of the repository's scripts/*.sh), and
// transformers' defaults for the rest (AdamW β = (0.9, 0.999), ε = 1e-8,
// no weight decay, gradient clipping at norm 1, linear decay to 0). The
// paper also tuned the bottleneck (reduction factor 32, 16 or 8) per task;
// Defaults uses the configuration files' 32.
package finetune
