package peft

import (
	"errors"
	"fmt"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/t5"
)

// This file holds the PHM options of the official Compacter code beyond
// the paper's settings (AdapterTrainingArguments of rabeehk/compacter,
// seq2seq/hypercomplex/layers.py PHMLinear and the shared tensors created
// in T5ForConditionalGeneration.__init__):
//
//   - factorized_phm_rule: the rule is phm_rule = bmm(phm_rule_left,
//     phm_rule_right), [n,n,1]·[n,1,n], so every Aᵢ = lᵢ·rᵢᵀ is of rank
//     one (factoredRule below). Per layer the factors are
//     "<layer>.phm_rule_left/right" drawn from N(0, 0.01²); with
//     shared_phm_rule they are the root-level "phm_rule_left/right" drawn
//     from N(0, phm_init_range²).
//   - shared_W_phm: one W (or W_left, W_right when factorized) for all
//     down_samplers and one for all up_samplers, the root-level "W_down",
//     "W_up" (or "W_down_left", "W_down_right", "W_up_left", "W_up_right"),
//     glorot-uniform per slice as the layers' own.
//   - kronecker_prod only picks another routine for the same Σᵢ Aᵢ ⊗ Wᵢ
//     (kronecker_product instead of kronecker_product_einsum_batched, both
//     H[r·p+s, c·q+t] = A[r,c]·W[s,t]): it does not change the layer, and is
//     accepted and has no effect here.
//   - normalize_phm_weight is an AdapterTrainingArguments field that the
//     released code never reads: AdapterConfig has no such attribute (so
//     get_adapter_config skips it) and PHMLinear takes no normalize
//     argument. It is accepted and has no effect, as there.

// factoredRule is a rule Aᵢ = Lᵢ·Rᵢ built from phm_rule_left L [n,n,1] and
// phm_rule_right R [n,1,n] before a layer runs, with the buffer of its
// gradient pulled back to L and R after the layer's backward. One
// factoredRule serves every layer that shares it.
type factoredRule struct {
	n           int
	left, right *t5.Param
	a, da       kernels.Buffer // the built rule [n,n,n] and its gradient
}

// newFactoredRule allocates the rule buffers of factors l and r.
func newFactoredRule(be kernels.Backend, n int, l, r *t5.Param) (*factoredRule, error) {
	f := &factoredRule{n: n, left: l, right: r}
	var err error
	if f.a, err = be.Alloc(kernels.Float32, n*n*n); err != nil {
		return nil, fmt.Errorf("peft: %w", err)
	}
	if f.da, err = be.Alloc(kernels.Float32, n*n*n); err != nil {
		be.Free(f.a)
		return nil, fmt.Errorf("peft: %w", err)
	}
	return f, nil
}

// free releases the rule buffers.
func (f *factoredRule) free(be kernels.Backend) error {
	return errors.Join(be.Free(f.a), be.Free(f.da))
}

// trains reports whether a factor has a gradient.
func (f *factoredRule) trains() bool {
	return f.left.G != nil || f.right.G != nil
}

// build writes Aᵢ = Lᵢ·Rᵢ (an n×1 times 1×n product per i).
func (f *factoredRule) build(be kernels.Backend) error {
	n := f.n
	return be.Gemm(kernels.GemmParams{M: n, N: n, K: 1, Alpha: 1, A: f.left.W, B: f.right.W, C: f.a,
		Batch: n, StrideA: n, StrideB: n, StrideC: n * n})
}

// pullback accumulates dLᵢ += dAᵢ·Rᵢᵀ and dRᵢ += Lᵢᵀ·dAᵢ from the rule
// gradient da.
func (f *factoredRule) pullback(be kernels.Backend) error {
	n := f.n
	var errs []error
	if f.left.G != nil {
		errs = append(errs, be.Gemm(kernels.GemmParams{TransB: true, M: n, N: 1, K: n, Alpha: 1, Beta: 1,
			A: f.da, B: f.right.W, C: f.left.G, Batch: n, StrideA: n * n, StrideB: n, StrideC: n}))
	}
	if f.right.G != nil {
		errs = append(errs, be.Gemm(kernels.GemmParams{TransA: true, M: 1, N: n, K: n, Alpha: 1, Beta: 1,
			A: f.left.W, B: f.da, C: f.right.G, Batch: n, StrideA: n, StrideB: n * n, StrideC: n}))
	}
	return errors.Join(errs...)
}

// sharedW holds the shared_W_phm tensors of the down- or the up-samplers:
// W, or W_left and W_right when factorized.
type sharedW struct {
	w, s, t *t5.Param
}

// addFactoredRule creates the factors prefix+"phm_rule_left" [n,n,1] and
// prefix+"phm_rule_right" [n,1,n] drawn from N(0, std²) and their rule
// buffers.
func (a *Applied) addFactoredRule(prefix string, n int, init func() float32) (*factoredRule, error) {
	l, err := a.add(prefix+"phm_rule_left", init, n, n, 1)
	if err != nil {
		return nil, err
	}
	r, err := a.add(prefix+"phm_rule_right", init, n, 1, n)
	if err != nil {
		return nil, err
	}
	f, err := newFactoredRule(a.Model.Backend, n, l, r)
	if err != nil {
		return nil, err
	}
	a.rules = append(a.rules, f)
	return f, nil
}

// addSharedW creates the root-level shared_W_phm tensors "W_<side>" (or
// "W_<side>_left" and "W_<side>_right") of a projection in → out.
func (a *Applied) addSharedW(side string, in, out int, init func(rows, cols int) func() float32) (sharedW, error) {
	c := a.Config
	n := c.PHMDim
	var s sharedW
	var err error
	if c.FactorizedPHMW {
		r := c.PHMRank
		if s.s, err = a.add("W_"+side+"_left", init(in/n, r), n, in/n, r); err != nil {
			return s, err
		}
		s.t, err = a.add("W_"+side+"_right", init(r, out/n), n, r, out/n)
		return s, err
	}
	s.w, err = a.add("W_"+side, init(in/n, out/n), n, in/n, out/n)
	return s, err
}

// validatePHMOptions checks the options of this file.
func (c Config) validatePHMOptions() error {
	if !c.HypercomplexAdapters {
		if c.SharedWPHM || c.FactorizedPHMRule {
			return fmt.Errorf("%w: shared_W_phm and factorized_phm_rule need hypercomplex_adapters", ErrConfig)
		}
		return nil
	}
	if c.SharedWPHM && c.FactorizedPHMW && c.PHMRank <= 0 {
		return fmt.Errorf("%w: shared_W_phm with factorized_phm_W: phm_rank %d must be positive", ErrConfig, c.PHMRank)
	}
	return nil
}

// phmOwnValues is the size of the tensors a PHM projection in → out owns:
// its rule and W when not shared, and its bias.
func (c Config) phmOwnValues(in, out int64) (own int64) {
	if !c.SharedPHMRule {
		own += c.ruleValues()
	}
	if !c.SharedWPHM {
		own += c.wValues(in, out)
	}
	return own + out
}

// ruleValues is the size of one rule: n³, or 2n² when factorized.
func (c Config) ruleValues() int64 {
	n := int64(c.PHMDim)
	if c.FactorizedPHMRule {
		return 2 * n * n
	}
	return n * n * n
}

// wValues is the size of the W of a PHM projection in → out:
// n·(in/n)·(out/n), or n·(in/n)·r + n·r·(out/n) when factorized.
func (c Config) wValues(in, out int64) int64 {
	if c.FactorizedPHMW {
		r := int64(c.PHMRank)
		return in*r + r*out
	}
	return in * out / int64(c.PHMDim)
}
