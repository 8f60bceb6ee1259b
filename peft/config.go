package peft

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
)

// ErrConfig reports an invalid or unsupported method configuration.
var ErrConfig = errors.New("peft: invalid config")

// Method names one row of the Compacter paper's table.
type Method string

// The methods of the Compacter paper.
const (
	FullFinetune   Method = "full-finetune"
	Adapter        Method = "adapter"
	Pfeiffer       Method = "pfeiffer"
	AdapterDrop    Method = "adapterdrop"
	AdapterLowRank Method = "adapter-lowrank"
	PHMAdapter     Method = "phm-adapter"
	Compacter      Method = "compacter"
	CompacterPP    Method = "compacter-pp"
	BitFit         Method = "bitfit"
	PromptTuning   Method = "prompt-tuning"
	IntrinsicSAID  Method = "intrinsic-said"
)

// Methods lists every method in the order of the paper's table.
var Methods = []Method{FullFinetune, Adapter, Pfeiffer, AdapterDrop, AdapterLowRank, PromptTuning,
	IntrinsicSAID, BitFit, PHMAdapter, Compacter, CompacterPP}

// Config is a method with its options, named as in the official Compacter
// code (AdapterTrainingArguments) and adapter-hub's CompacterConfig where
// they mean the same. Default gives the paper's settings.
type Config struct {
	Method Method `json:"method"`
	// Task is the task name inside the adapter parameter names
	// ("…adapter_controller.adapters.<task>.…").
	Task string `json:"task"`
	// ReductionFactor is d_model / bottleneck (task_reduction_factor).
	ReductionFactor int `json:"reduction_factor"`
	// NonLinearity is the adapter activation (gelu_new).
	NonLinearity string `json:"non_linearity"`
	// AddAdapterInSelfAttention and AddAdapterInFeedForward place adapters
	// after the self-attention and the feed-forward sub-layers.
	AddAdapterInSelfAttention bool `json:"add_adapter_in_self_attention"`
	AddAdapterInFeedForward   bool `json:"add_adapter_in_feed_forward"`
	// TaskAdapterLayersEncoder and …Decoder restrict adapters to these
	// blocks (AdapterDrop); nil means every block.
	TaskAdapterLayersEncoder []int `json:"task_adapter_layers_encoder"`
	TaskAdapterLayersDecoder []int `json:"task_adapter_layers_decoder"`
	// HypercomplexAdapters makes the adapter projections PHM layers with
	// PHMDim = n (hypercomplex_division).
	HypercomplexAdapters bool `json:"hypercomplex_adapters"`
	PHMDim               int  `json:"phm_dim"`
	// SharedPHMRule shares one rule [n,n,n] (the root-level "phm_rule")
	// between all PHM layers; FactorizedPHMW makes W[i] = W_left[i]·W_right[i]
	// of rank PHMRank (Compacter).
	SharedPHMRule  bool `json:"shared_phm_rule"`
	FactorizedPHMW bool `json:"factorized_phm_W"`
	PHMRank        int  `json:"phm_rank"`
	// FactorizedPHMRule makes every rule phm_rule_left·phm_rule_right,
	// [n,n,1]·[n,1,n] (Aᵢ of rank one), shared or per layer.
	FactorizedPHMRule bool `json:"factorized_phm_rule"`
	// SharedWPHM shares one W (or W_left, W_right) between all
	// down-samplers and one between all up-samplers (the root-level
	// "W_down", "W_up", …).
	SharedWPHM bool `json:"shared_W_phm"`
	// NormalizePHMWeight and KroneckerProd are accepted and have no
	// effect: the official code never reads normalize_phm_weight, and
	// kronecker_prod only picks another routine for the same product (see
	// phm_options.go).
	NormalizePHMWeight bool `json:"normalize_phm_weight"`
	KroneckerProd      bool `json:"kronecker_prod"`
	// PHMInitRange is the standard deviation of the shared rule's normal
	// initialisation (phm_c_init "normal").
	PHMInitRange float64 `json:"phm_init_range"`
	// LowRankAdapters makes the adapter weights W_left·W_right of rank
	// LowRankRank (Adapter-LowRank). The official LowRankLinear computes
	// the broadcast product W_left * W_right, which is this matrix product
	// for rank 1 and a PyTorch shape error for any rank > 1 at the adapter
	// shapes; a rank r > 1 here is the matrix product [in, r]·[r, out].
	LowRankAdapters bool `json:"low_rank_adapters"`
	LowRankRank     int  `json:"low_rank_rank"`
	// UnfreezeLayerNorms trains the block and final T5 layer norms.
	UnfreezeLayerNorms bool `json:"unfreeze_layer_norms"`
	// PrefixDim is the prompt length of prompt tuning; InitPrefixFromVocab
	// initialises it from vocabulary embeddings.
	PrefixDim           int  `json:"prefix_dim"`
	InitPrefixFromVocab bool `json:"init_prefix_from_vocab"`
	// IntrinsicDim is the total number of trained values of Intrinsic-SAID
	// (θ_d and the per-tensor scalars λ).
	IntrinsicDim int `json:"intrinsic_dim"`
	// SAIDTiedHeadAtTheta0 reproduces the official Intrinsic-SAID with tied
	// embeddings, whose LM head keeps the initial embedding θ0 while the
	// input embedding follows θ_d (named_parameters lists the tied tensor
	// once). Off by default: the head follows the projected embedding.
	// ParseOfficial sets it, since the official code always behaves so.
	SAIDTiedHeadAtTheta0 bool `json:"said_tied_lm_head_at_theta0"`
	// SAIDState is the version of the random state of Intrinsic-SAID's
	// seeded projections (fastfood.StateVersion): 0 means the latest, and
	// Apply records the version it used, so that Save writes it. A θ_d
	// reproduces its weights only with the version it was trained with;
	// Load reads a missing version as 1, the only one before versions were
	// recorded.
	SAIDState int `json:"said_state,omitempty"`
	// LearningRate is the method's learning rate in the paper's configs.
	LearningRate float64 `json:"learning_rate"`
}

// Default returns the paper's settings of a method (the official
// repository's config files: reduction factor 32, gelu_new, n = 4 for
// Compacter and Compacter++, n = 12 for PHM-Adapter, AdapterDrop on blocks
// 5–11 of 12, prompt length 100, intrinsic dimension 20000).
func Default(m Method) (Config, error) {
	c := Config{Method: m, Task: "default", ReductionFactor: 32, NonLinearity: "gelu_new",
		AddAdapterInSelfAttention: true, AddAdapterInFeedForward: true,
		PHMDim: 4, PHMRank: 1, PHMInitRange: 1e-4, LowRankRank: 1,
		PrefixDim: 100, IntrinsicDim: 20000, LearningRate: 3e-4}
	switch m {
	case FullFinetune, BitFit:
	case Adapter:
		c.UnfreezeLayerNorms = true
	case Pfeiffer:
		c.UnfreezeLayerNorms = true
		c.AddAdapterInFeedForward = false
	case AdapterDrop:
		c.UnfreezeLayerNorms = true
		c.TaskAdapterLayersEncoder = []int{5, 6, 7, 8, 9, 10, 11}
		c.TaskAdapterLayersDecoder = []int{5, 6, 7, 8, 9, 10, 11}
	case AdapterLowRank:
		c.UnfreezeLayerNorms, c.LowRankAdapters, c.LearningRate = true, true, 3e-3
	case PHMAdapter:
		c.UnfreezeLayerNorms, c.HypercomplexAdapters, c.PHMDim, c.LearningRate = true, true, 12, 3e-3
	case Compacter, CompacterPP:
		c.UnfreezeLayerNorms, c.HypercomplexAdapters, c.LearningRate = true, true, 3e-3
		c.SharedPHMRule, c.FactorizedPHMW = true, true
		c.AddAdapterInSelfAttention = m == Compacter
	case PromptTuning:
		c.InitPrefixFromVocab, c.LearningRate = true, 3e-1
	case IntrinsicSAID:
		c.LearningRate = 3e-2
	default:
		return Config{}, fmt.Errorf("%w: unknown method %q", ErrConfig, m)
	}
	return c, nil
}

// adapterMethod reports whether the method adds bottleneck adapters.
func (c Config) adapterMethod() bool {
	switch c.Method {
	case Adapter, Pfeiffer, AdapterDrop, AdapterLowRank, PHMAdapter, Compacter, CompacterPP:
		return true
	}
	return false
}

// Validate checks the options against a model width d_model.
func (c Config) Validate(dModel int) error {
	if _, err := Default(c.Method); err != nil {
		return err
	}
	if !c.adapterMethod() {
		return nil
	}
	if c.ReductionFactor <= 0 || dModel%c.ReductionFactor != 0 {
		return fmt.Errorf("%w: reduction_factor %d does not divide d_model %d", ErrConfig, c.ReductionFactor, dModel)
	}
	if c.Task == "" {
		return fmt.Errorf("%w: empty task name", ErrConfig)
	}
	hid := dModel / c.ReductionFactor
	if c.HypercomplexAdapters {
		n := c.PHMDim
		if n <= 0 || dModel%n != 0 || hid%n != 0 {
			return fmt.Errorf("%w: phm_dim %d must divide d_model %d and the bottleneck %d", ErrConfig, n, dModel, hid)
		}
		if c.FactorizedPHMW && c.PHMRank <= 0 {
			return fmt.Errorf("%w: phm_rank %d must be positive", ErrConfig, c.PHMRank)
		}
	}
	if c.LowRankAdapters && c.HypercomplexAdapters {
		return fmt.Errorf("%w: low_rank_adapters and hypercomplex_adapters exclude each other", ErrConfig)
	}
	if c.LowRankAdapters && c.LowRankRank <= 0 {
		return fmt.Errorf("%w: low_rank_rank %d must be positive", ErrConfig, c.LowRankRank)
	}
	return c.validatePHMOptions()
}

// adapterBlocks reports whether block i of a stack holds adapters.
func (c Config) adapterBlock(decoder bool, i int) bool {
	l := c.TaskAdapterLayersEncoder
	if decoder {
		l = c.TaskAdapterLayersDecoder
	}
	return l == nil || slices.Contains(l, i)
}

// officialArgs is the part of the official peft.json the methods read.
type officialArgs struct {
	Method       string  `json:"method"`
	Task         string  `json:"task"`
	LearningRate float64 `json:"learning_rate"`
	Args         struct {
		TaskReductionFactor      int     `json:"task_reduction_factor"`
		NonLinearity             string  `json:"non_linearity"`
		UnfreezeLayerNorms       bool    `json:"unfreeze_layer_norms"`
		TaskAdapterLayersEncoder []int   `json:"task_adapter_layers_encoder"`
		TaskAdapterLayersDecoder []int   `json:"task_adapter_layers_decoder"`
		HypercomplexAdapters     bool    `json:"hypercomplex_adapters"`
		HypercomplexDivision     int     `json:"hypercomplex_division"`
		SharedPHMRule            bool    `json:"shared_phm_rule"`
		FactorizedPHM            bool    `json:"factorized_phm"`
		PHMRank                  int     `json:"phm_rank"`
		PHMInitRange             float64 `json:"phm_init_range"`
		AddAdapterInFeedForward  bool    `json:"add_adapter_in_feed_forward"`
		AddAdapterInSelfAttn     bool    `json:"add_adapter_in_self_attention"`
		PrefixDim                int     `json:"prefix_dim"`
		InitPrefixFromVocab      bool    `json:"init_prefix_from_vocab"`
		IntrinsicDim             int     `json:"intrinsic_dim"`
		LowRankAdapters          bool    `json:"low_rank_adapters"`
		LowRankRank              int     `json:"low_rank_rank"`
		SharedWPHM               bool    `json:"shared_W_phm"`
		FactorizedPHMRule        bool    `json:"factorized_phm_rule"`
		NormalizePHMWeight       bool    `json:"normalize_phm_weight"`
		KroneckerProd            bool    `json:"kronecker_prod"`
	} `json:"adapter_training_arguments"`
}

// ParseOfficial reads a peft.json written for the official Compacter code
// (the layout of the reference data: "method", "task", "learning_rate" and
// "adapter_training_arguments" with the repository's option names).
func ParseOfficial(data []byte) (Config, error) {
	var o officialArgs
	if err := json.Unmarshal(data, &o); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c, err := Default(Method(o.Method))
	if err != nil {
		return Config{}, err
	}
	a := o.Args
	c.Task, c.LearningRate = o.Task, o.LearningRate
	c.ReductionFactor, c.NonLinearity = a.TaskReductionFactor, a.NonLinearity
	c.UnfreezeLayerNorms = a.UnfreezeLayerNorms
	c.TaskAdapterLayersEncoder, c.TaskAdapterLayersDecoder = a.TaskAdapterLayersEncoder, a.TaskAdapterLayersDecoder
	c.HypercomplexAdapters, c.PHMDim = a.HypercomplexAdapters, a.HypercomplexDivision
	c.SharedPHMRule, c.FactorizedPHMW, c.PHMRank, c.PHMInitRange = a.SharedPHMRule, a.FactorizedPHM, a.PHMRank, a.PHMInitRange
	if a.HypercomplexAdapters {
		// The official code reads these only for hypercomplex adapters.
		c.SharedWPHM, c.FactorizedPHMRule = a.SharedWPHM, a.FactorizedPHMRule
		c.NormalizePHMWeight, c.KroneckerProd = a.NormalizePHMWeight, a.KroneckerProd
	}
	c.AddAdapterInFeedForward, c.AddAdapterInSelfAttention = a.AddAdapterInFeedForward, a.AddAdapterInSelfAttn
	c.PrefixDim, c.InitPrefixFromVocab, c.IntrinsicDim = a.PrefixDim, a.InitPrefixFromVocab, a.IntrinsicDim
	c.LowRankAdapters, c.LowRankRank = a.LowRankAdapters, a.LowRankRank
	c.SAIDTiedHeadAtTheta0 = c.Method == IntrinsicSAID
	return c, nil
}

// LoadOfficial reads ParseOfficial's file from a path.
func LoadOfficial(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("peft: %w", err)
	}
	c, err := ParseOfficial(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
