// Package sweep runs the low-resource experiment of the Compacter paper:
// every GLUE training set cut to a few sizes (the paper: 100, 500, 1000,
// 2000 and 4000 examples), each method fine-tuned on each cut with a few
// seeds, and the test score plotted against the training-set size.
//
// A cell of the grid is one (task, method, size, seed); Run trains it with
// finetune.Run, the loop behind "compacter train", and stores its result
// in OutDir/cells/<task>/<method>/n<size>/s<seed>/result.json, written to a
// temporary file and renamed. A cell whose result.json exists is never run
// again (a rerun of the same grid only runs what is missing, and a grid
// grown by a size or a seed reuses what it shares); a crash or a
// cancellation loses at most the cell in progress, which finetune's
// checkpoint resumes. A result.json written with other settings (learning
// rate, epochs, PEFT options, evaluation samples, another train.tsv) is an
// error, not a silent mix. The model folder and backend are recorded in
// each result but not compared: pointing a sweep at another model means
// choosing another OutDir.
//
// # Subsamples
//
// The training subsample of a cell depends on the task and the seed alone
// and is nested: for a seed, one permutation of the task's training split
// is drawn, and size n is its first n examples, so the 500-example set
// contains the 100-example set. The permutation is glue.Task.Load's seeded
// shuffle (the official code's n_obs), which finetune.Run applies through
// finetune.Config.TrainSamples; Draw calls the same function with the same
// arguments, and every result.json records the seed, the generator, the
// sha256 of train.tsv, the train.tsv line of every example in order and a
// sha256 of the examples, so a cell's data can be rebuilt and checked. The
// seed also seeds, as in "compacter train", the validation/test halves of
// dev.tsv (small tasks), the method's initialisation, the data order and
// dropout, so the spread over seeds includes all of these.
//
// A size larger than a task's training split is an error, unless
// Config.Clamp is set: then it becomes the whole split (the official
// code's behaviour for n_obs ≥ the split's size), sizes that clamp to the
// same number are run once, and the table notes the sizes asked for.
//
// # Outputs
//
//	sweep.json                     the grid and settings of the last run
//	cells/…/result.json            one cell: scores, settings, subsample
//	cells/…/report.json, report.md finetune's report of the cell
//	table.json, table.md, table.csv  mean ± std over seeds per
//	                               (task, method, size)
//	figure-<task>.svg, .png        test score vs. training-set size, one
//	                               line per method with ±std error bars
//
// The score is the task's test score (the mean of its metrics ×100, with
// the best epoch's method), averaged over the seeds that finished; the
// spread is the sample standard deviation (n−1 denominator; 0 with one
// seed). A cell whose loss became NaN or infinite is recorded as failed,
// counted in the table and not rerun (the same seed diverges again; delete
// its folder to retry with other settings).
//
// Unless Config.KeepWeights is set, a finished cell's checkpoint and best
// adapter are deleted once its result is stored (full fine-tuning would
// otherwise keep a whole model per cell).
package sweep
