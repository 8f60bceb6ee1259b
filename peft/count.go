package peft

import (
	"fmt"

	"github.com/compacter-go/compacter/t5"
)

// Count returns the trainable and total parameter counts of a method on a
// model of configuration cfg, as the official code counts them
// (model.parameters(), tied and shared tensors once). It needs only the
// shapes, so it works at any size (t5.Preset("t5-base")) without
// allocating the model.
func Count(cfg t5.Config, c Config) (trainable, total int64, err error) {
	if err := cfg.Validate(); err != nil {
		return 0, 0, err
	}
	if err := c.Validate(cfg.DModel); err != nil {
		return 0, 0, err
	}
	base := cfg.NumParams()
	d, inner, ff := int64(cfg.DModel), int64(cfg.Inner()), int64(cfg.DFF)
	enc, dec := int64(cfg.NumLayers), int64(cfg.NumDecoderLayers)
	_, gated, _ := cfg.FFN()
	nwi := int64(1)
	if gated {
		nwi = 2
	}
	layerNorms := d * (2*enc + 3*dec + 2)
	switch {
	case c.Method == FullFinetune:
		return base, base, nil
	case c.adapterMethod():
		n := adapterParams(cfg, c)
		if c.UnfreezeLayerNorms {
			return n + layerNorms, base + n, nil
		}
		return n, base + n, nil
	case c.Method == BitFit:
		// Biases of q, k, v (inner), o (d_model), wi (d_ff, twice when
		// gated) and wo (d_model), of every block layer norm, and lm_head.
		attn := 3*inner + d
		ffn := nwi*ff + d
		n := enc*(attn+ffn+2*d) + dec*(2*attn+ffn+3*d) + int64(cfg.VocabSize)
		return n, base + n, nil
	case c.Method == PromptTuning:
		n := int64(c.PrefixDim) * d
		return n, base + n, nil
	case c.Method == IntrinsicSAID:
		n := int64(c.IntrinsicDim)
		return n, base + n, nil
	}
	return 0, 0, fmt.Errorf("%w: unknown method %q", ErrConfig, c.Method)
}

// adapterParams counts the adapter tensors of an adapter method.
func adapterParams(cfg t5.Config, c Config) int64 {
	d := int64(cfg.DModel)
	hid := d / int64(c.ReductionFactor)
	proj := func(in, out int64) int64 {
		switch {
		case c.LowRankAdapters:
			r := int64(c.LowRankRank)
			return in*r + r*out + out
		case c.HypercomplexAdapters:
			return c.phmOwnValues(in, out)
		}
		return in*out + out
	}
	per := proj(d, hid) + proj(hid, d)
	var layers int64
	for _, dec := range []bool{false, true} {
		nb := cfg.NumLayers
		if dec {
			nb = cfg.NumDecoderLayers
		}
		for i := 0; i < nb; i++ {
			if !c.adapterBlock(dec, i) {
				continue
			}
			if c.AddAdapterInSelfAttention {
				layers++
			}
			if c.AddAdapterInFeedForward {
				layers++
			}
		}
	}
	n := layers * per
	if c.HypercomplexAdapters && layers > 0 {
		if c.SharedPHMRule {
			n += c.ruleValues()
		}
		if c.SharedWPHM {
			n += c.wValues(d, hid) + c.wValues(hid, d)
		}
	}
	return n
}

// T5BaseDenominator is the official code's hard-coded t5-base size (at the
// tokenizer's vocabulary of 32100), the denominator of the paper's
// percentages.
const T5BaseDenominator = 222882048

// Percent formats a trainable count as the paper's column: the
// percentage of T5BaseDenominator with three decimals.
func Percent(trainable int64) string {
	return fmt.Sprintf("%.3f", 100*float64(trainable)/T5BaseDenominator)
}
