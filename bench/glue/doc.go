// Package glue reads the GLUE tasks of the Compacter paper (CoLA, SST-2,
// MRPC, QQP, STS-B, MNLI, QNLI, RTE) from the TSV files of the original
// GLUE distribution (the glue_data/ layout of GLUE's download script) and
// turns them into the text-to-text examples of the official Compacter code
// (rabeehk/compacter, seq2seq/data/tasks.py): the input is the task name
// followed by "<field>: <text>" pairs joined with single spaces, e.g.
// "rte sentence1: … sentence2: …", and the target is the label word
// ("0", "1", "2"; for STS-B the score rounded to one decimal, e.g. "3.8").
//
// # Files
//
// GLUE TSV files are split on tab characters only: fields are never
// quoted (several sentences contain '"'), so CSV rules do not apply. A
// leading UTF-8 byte-order mark (MRPC) and a missing final newline (CoLA's
// dev.tsv) are accepted; "\r\n" line ends are too. Every task but CoLA has
// a header row, and its columns are found by name. A row with the wrong
// number of fields or an unreadable label is an error naming the file and
// line, except for QQP, where such rows are skipped and counted, as the
// GLUE processors of BERT do for the malformed rows of QQP's train.tsv.
//
// # Splits
//
// As the official code with split_validation_test (its setting for every
// GLUE run of the paper): the small tasks (CoLA, MRPC, RTE, STS-B, under
// 10k training rows) train on train.tsv and divide dev.tsv into a
// validation half and a test half; SST-2, QQP and QNLI hold 1000 rows of
// train.tsv out as validation and use dev.tsv as test; MNLI validates on
// dev_mismatched.tsv and tests on dev_matched.tsv. The divisions use a
// seeded shuffle (seed 42 in the paper's runs). The official code shuffles
// with torch.randperm; this package uses Go's PCG generator, so its halves
// are a different (equally random) division of the same rows.
//
// # Metrics
//
// Matthews correlation (CoLA), accuracy (SST-2, MNLI, QNLI, RTE; also
// MRPC and QQP), F1 of the positive class "1" (MRPC, QQP), Pearson and
// Spearman correlation (STS-B), with the official code's handling of
// generated text that is not a label: it counts as wrong for accuracy,
// as the opposite of the target for F1, as its own class for Matthews, and
// as −1 for the correlations; an undefined correlation (constant input)
// is 0. Task.Evaluate reports them ×100, as the paper's tables, and the
// task's score as their mean ("average_metrics", the official criterion
// for the best checkpoint).
package glue
