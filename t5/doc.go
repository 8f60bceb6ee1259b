// Package t5 is the T5 encoder–decoder (T5ForConditionalGeneration) on the
// kernels.Backend, with a hand-written backward pass for every layer, in the
// conventions of Hugging Face transformers 4.6.0 as the official Compacter
// code uses it: relative position buckets (bidirectional in the encoder,
// causal in the decoder) computed from block 0's table of each stack and
// reused by every block, attention without 1/√d scaling, RMS layer norm,
// ReLU or gated-GELU feed-forward, tied embeddings rescaled by d_model^-½
// before the LM head (or an untied lm_head), self-attention masks adding
// −10000 and the cross-attention mask −1e9, cross-entropy ignoring −100.
//
// Parameter-efficient methods (package peft) attach through small hooks:
// a SubLayerHook transforms sub-layer outputs before their residual
// addition (adapters), AddBias gives Linear layers, block layer norms and
// the LM head a bias (BitFit), SetPrompt prepends trained embeddings to the
// encoder input (prompt tuning), and a Reparam with Derived parameters and
// SetTiedHead computes weights from other parameters (Intrinsic-SAID);
// AddParam adds the methods' tensors to Params.
//
// The model code only calls Backend operations on backend buffers, so it
// runs unchanged on every backend. Checkpoints use the Hugging Face layout
// (config.json + model.safetensors or a sharded index) and tensor names.
//
// # Use
//
//	m, err := t5.Load(dir, backend)     // or New(cfg, backend) + InitWeights
//	m.Freeze(isBase, true)              // PEFT: frozen tensors get no gradient
//	tr, err := t5.NewTrainer(m, t5.TrainConfig{LR: 1e-3, WeightDecay: 0.01})
//	res, err := tr.Step([]t5.Batch{b1, b2})   // accumulate, clip, AdamW
//	// (one batch without clipping: each block updated during the backward)
//	// or tr.Backward(batches), inspect res.Loss, then tr.Update();
//	// tr.State() / tr.SetState(st) save and restore the step count and
//	// moments for an exact resume
//	out, err := m.Generate(ids, mask, B, S, 64) // greedy, key/value cache
//
// # Memory
//
// With N parameters (N_t of them trainable), a training step holds, in
// float32: the weights (4·N bytes), the gradients (4·N_t; with the fused
// Step of one batch without clipping only the shared embedding's and one
// block's at a time, see TrainConfig.SeparateUpdate), the AdamW moments
// (8·N_t, from the first step), and the activations of one pass. For rows
// n = B·len of a sub-layer, the activations kept for the backward are, in
// elements: per self-attention sub-layer the output residual stream, the
// normed input (n·d_model each), q, k, v and the merged context
// (4·n·inner), and, on backends without kernels.InPlaceHeads, the
// probabilities (B·heads·len²; twice that with dropout: where the heads are
// read in place, as on the CPU, attention runs one head at a time and the
// backward recomputes each head's probabilities from q and k, about 1/6 of
// the attention products' FLOPs more); per cross-attention sub-layer the
// same with keys of the encoder length, or, where it takes the reassociated
// path (crossattn.go: few targets, the CPU; no key or value projection is
// formed), q and the probabilities (n·inner + n·heads·S, twice the latter
// with dropout; the backward recomputes Q̃ and U); per feed-forward sub-layer the output, the normed input
// (n·d_model each) and the pre- and post-activation hidden layers (2·n·d_ff,
// 4·n·d_ff gated); plus the embeddings, final norms and the logits
// (B·T·vocab, reused for their gradient by Trainer). The backward's scratch
// is about n·(3·d_model + 4·max(inner, d_ff) + 4·inner) + B·heads·len²
// elements (3·B·len² for the probabilities where the heads are read in
// place). Measured at t5-base, batch 8×128, Backward then Update (see
// BenchmarkTrainStepT5Base, 2026-12-06): weights 850 MiB, gradients 850
// MiB, AdamW 1701 MiB, activations and scratch 1266 MiB: a peak of 4.6 GiB.
package t5
