package t5

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/compacter-go/compacter/kernels"
)

// ErrConfig reports an invalid or unsupported config.json.
var ErrConfig = errors.New("t5: invalid config")

// Config holds the Hugging Face T5Config fields the model uses.
type Config struct {
	VocabSize                    int     `json:"vocab_size"`
	DModel                       int     `json:"d_model"`
	DKV                          int     `json:"d_kv"`
	DFF                          int     `json:"d_ff"`
	NumLayers                    int     `json:"num_layers"`
	NumDecoderLayers             int     `json:"num_decoder_layers"`
	NumHeads                     int     `json:"num_heads"`
	RelativeAttentionNumBuckets  int     `json:"relative_attention_num_buckets"`
	RelativeAttentionMaxDistance int     `json:"relative_attention_max_distance"`
	DropoutRate                  float64 `json:"dropout_rate"`
	LayerNormEpsilon             float64 `json:"layer_norm_epsilon"`
	InitializerFactor            float64 `json:"initializer_factor"`
	FeedForwardProj              string  `json:"feed_forward_proj"`
	TieWordEmbeddings            bool    `json:"tie_word_embeddings"`
	DecoderStartTokenID          int     `json:"decoder_start_token_id"`
	PadTokenID                   int     `json:"pad_token_id"`
	EOSTokenID                   int     `json:"eos_token_id"`
	ModelType                    string  `json:"model_type,omitempty"`
}

// DefaultConfig returns the T5Config defaults of transformers (t5-small).
func DefaultConfig() Config {
	return Config{
		VocabSize: 32128, DModel: 512, DKV: 64, DFF: 2048, NumLayers: 6, NumHeads: 8,
		RelativeAttentionNumBuckets: 32, RelativeAttentionMaxDistance: 128,
		DropoutRate: 0.1, LayerNormEpsilon: 1e-6, InitializerFactor: 1,
		FeedForwardProj: "relu", TieWordEmbeddings: true,
		DecoderStartTokenID: 0, PadTokenID: 0, EOSTokenID: 1, ModelType: "t5",
	}
}

// Preset returns the configuration of a published checkpoint: "t5-small",
// "t5-base", "t5-large", "google/t5-v1_1-small" or "google/t5-v1_1-base"
// (the "google/" prefix is optional).
func Preset(name string) (Config, error) {
	c := DefaultConfig()
	switch strings.TrimPrefix(name, "google/") {
	case "t5-small":
	case "t5-base":
		c.DModel, c.DFF, c.NumLayers, c.NumHeads = 768, 3072, 12, 12
	case "t5-large":
		c.DModel, c.DFF, c.NumLayers, c.NumHeads = 1024, 4096, 24, 16
	case "t5-v1_1-small":
		c.DModel, c.DFF, c.NumLayers, c.NumHeads = 512, 1024, 8, 6
		c.FeedForwardProj, c.TieWordEmbeddings, c.DropoutRate = "gated-gelu", false, 0
	case "t5-v1_1-base":
		c.DModel, c.DFF, c.NumLayers, c.NumHeads = 768, 2048, 12, 12
		c.FeedForwardProj, c.TieWordEmbeddings, c.DropoutRate = "gated-gelu", false, 0
	default:
		return Config{}, fmt.Errorf("%w: unknown preset %q", ErrConfig, name)
	}
	c.NumDecoderLayers = c.NumLayers
	return c, nil
}

// ParseConfig decodes a Hugging Face config.json. Fields it does not know
// are ignored (they do not change the model); missing fields take the
// T5Config defaults; num_decoder_layers defaults to num_layers. Unknown
// values of the fields it uses (feed_forward_proj, model_type) are errors.
func ParseConfig(data []byte) (Config, error) {
	c := DefaultConfig()
	c.NumDecoderLayers = -1
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if c.NumDecoderLayers < 0 {
		c.NumDecoderLayers = c.NumLayers
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfig reads and parses a config.json file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("t5: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Validate checks that the sizes are positive and the values supported.
func (c Config) Validate() error {
	if c.ModelType != "" && c.ModelType != "t5" {
		return fmt.Errorf("%w: model_type %q is not \"t5\"", ErrConfig, c.ModelType)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab_size", c.VocabSize}, {"d_model", c.DModel}, {"d_kv", c.DKV}, {"d_ff", c.DFF},
		{"num_layers", c.NumLayers}, {"num_decoder_layers", c.NumDecoderLayers},
		{"num_heads", c.NumHeads}, {"relative_attention_num_buckets", c.RelativeAttentionNumBuckets},
		{"relative_attention_max_distance", c.RelativeAttentionMaxDistance}} {
		if f.v <= 0 {
			return fmt.Errorf("%w: %s = %d must be positive", ErrConfig, f.name, f.v)
		}
	}
	if c.RelativeAttentionNumBuckets < 4 {
		return fmt.Errorf("%w: relative_attention_num_buckets = %d must be at least 4", ErrConfig, c.RelativeAttentionNumBuckets)
	}
	if c.DropoutRate < 0 || c.DropoutRate >= 1 {
		return fmt.Errorf("%w: dropout_rate = %v must be in [0, 1)", ErrConfig, c.DropoutRate)
	}
	if !(c.LayerNormEpsilon >= 0) {
		return fmt.Errorf("%w: layer_norm_epsilon = %v must be non-negative", ErrConfig, c.LayerNormEpsilon)
	}
	if _, _, err := c.FFN(); err != nil {
		return err
	}
	for _, id := range []struct {
		name string
		v    int
	}{{"decoder_start_token_id", c.DecoderStartTokenID}, {"pad_token_id", c.PadTokenID}, {"eos_token_id", c.EOSTokenID}} {
		if id.v < 0 || id.v >= c.VocabSize {
			return fmt.Errorf("%w: %s = %d outside the vocabulary [0, %d)", ErrConfig, id.name, id.v, c.VocabSize)
		}
	}
	return nil
}

// FFN decodes feed_forward_proj: the activation and whether the layer is
// gated (act(x·wi_0ᵀ) ⊙ x·wi_1ᵀ). "relu" and "gated-gelu" are the T5 v1.0
// and v1.1 values; "gated-gelu" uses gelu_new as transformers does.
func (c Config) FFN() (act kernels.Activation, gated bool, err error) {
	name := c.FeedForwardProj
	if rest, ok := strings.CutPrefix(name, "gated-"); ok {
		gated, name = true, rest
		if name == "gelu" {
			name = "gelu_new"
		}
	}
	act, err = kernels.ParseActivation(name)
	if err != nil {
		return 0, false, fmt.Errorf("%w: feed_forward_proj %q is not \"relu\", \"gated-gelu\" or another [gated-]activation", ErrConfig, c.FeedForwardProj)
	}
	return act, gated, nil
}

// Inner is the width of the attention projections, num_heads·d_kv.
func (c Config) Inner() int { return c.NumHeads * c.DKV }

// JSON encodes the configuration as a Hugging Face config.json.
func (c Config) JSON() ([]byte, error) {
	type hf struct {
		Config
		Architectures  []string `json:"architectures"`
		IsEncDec       bool     `json:"is_encoder_decoder"`
		IsGatedActTrue bool     `json:"is_gated_act"`
	}
	_, gated, err := c.FFN()
	if err != nil {
		return nil, err
	}
	c.ModelType = "t5"
	return json.MarshalIndent(hf{c, []string{"T5ForConditionalGeneration"}, true, gated}, "", "  ")
}

// NumParams is the number of parameters of the model (named_parameters,
// tied embeddings counted once).
func (c Config) NumParams() int64 {
	d, inner, ff := int64(c.DModel), int64(c.Inner()), int64(c.DFF)
	attn := 4*d*inner + d
	nwi := int64(1)
	if _, gated, _ := c.FFN(); gated {
		nwi = 2
	}
	ffn := (nwi+1)*d*ff + d
	rel := int64(c.RelativeAttentionNumBuckets * c.NumHeads)
	n := int64(c.VocabSize)*d + int64(c.NumLayers)*(attn+ffn) + rel + d +
		int64(c.NumDecoderLayers)*(2*attn+ffn) + rel + d
	if !c.TieWordEmbeddings {
		n += int64(c.VocabSize) * d
	}
	return n
}
