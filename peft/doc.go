// Package peft applies the parameter-efficient fine-tuning methods of the
// Compacter paper (Karimi Mahabadi, Henderson & Ruder 2021) to a t5.Model,
// as the official Compacter code (rabeehk/compacter) implements them:
// full fine-tuning, Adapter (Houlsby), Pfeiffer-Adapter, AdapterDrop,
// Adapter-LowRank, prompt tuning, Intrinsic-SAID, BitFit, PHM-Adapter,
// Compacter and Compacter++.
//
// # Use
//
//	m, _ := t5.Load(dir, backend)
//	c, _ := peft.Default(peft.Compacter)      // the paper's settings
//	a, _ := peft.Apply(m, c, seed)            // freeze, add tensors, install
//	fmt.Println(a.Trainable(), a.Total())
//	tr, _ := t5.NewTrainer(m, t5.TrainConfig{LR: c.LearningRate})
//	tr.Step(batches)
//	a.Save(out)                               // adapter_config.json + adapter_model.safetensors
//	a.Remove()                                // back to the base, for another task
//	b, _ := peft.Load(out, m)                 // or a folder of the official code (peft.json + peft.safetensors)
//
// Count gives the trainable and total parameters of a method from the
// shapes alone; at t5-base they equal the official code's counts
// (0.073 % for Compacter with its denominator 222,882,048, Percent).
//
// # How the methods hook into T5
//
// Adapters are a t5.SubLayerHook: after the self-attention and/or the
// feed-forward output x of a block, before its dropout and residual
// addition, h ← h + (x + up(gelu_new(down(x)))). The projections are
// nn.Linear (y = x·Wᵀ + b), low-rank (y = x·(W_left·W_right) + b, run as
// a PHM layer of n = 1), PHM (y = x·Σᵢ kron(Aᵢ, Wᵢ) + b, a rule per
// layer) or Compacter's LPHM (Wᵢ = W_leftᵢ·W_rightᵢ, one rule phm_rule
// shared by every layer), on the backend's fused PHM kernels: H is never
// materialised. BitFit adds biases to every attention and feed-forward
// Linear, every block layer norm (w·x̂ + b) and the LM head
// (t5.Model.AddBias). Prompt tuning prepends prefix_shared to the encoder
// input embeddings and extends the masks (t5.Model.SetPrompt).
// Intrinsic-SAID is a t5.Reparam: every base tensor is
// θ_i = θ0_i + λ_i·P_i(θ_d) with a Fastfood map per tensor (fastfood
// package); the base tensors are Derived (gradients, no optimizer state)
// and their gradients are pulled back to θ_d and λ exactly (the official
// code's FWHT backward is scaled by 1/√L; this one is the true gradient).
// The official SAID with tied embeddings leaves the LM head at θ0
// (Config.SAIDTiedHeadAtTheta0, set by ParseOfficial, off by Default).
//
// Frozen tensors have no gradient buffer and no optimizer state, and the
// backward stops below the lowest block with something trainable.
//
// # Names and files
//
// Tensor names are the official code's named_parameters names, e.g.
// "encoder.block.0.layer.1.adapter_controller.adapters.<task>.up_sampler.W_right",
// "phm_rule", "decoder.block.1.layer.0.SelfAttention.q.bias",
// "lm_head.bias", "prefix_shared", "intrinsic_parameter" and
// "intrinsic_parameter_said" (one more entry than projected tensors, the
// last unused, as in the official code), so that tensors trained by it load
// by name (LoadTensors, Load).
//
// # Merging
//
// CanMerge: full fine-tuning and Intrinsic-SAID fold into plain T5
// weights (Merge). The adapter methods cannot: the non-linearity between
// down and up keeps even PHM and low-rank adapters from being a dense
// weight update. BitFit needs biases that T5 does not have, and prompt
// tuning changes the input.
package peft
