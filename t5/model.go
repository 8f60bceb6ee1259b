package t5

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/compacter-go/compacter/kernels"
)

// Param is one parameter tensor of the model, under its Hugging Face name.
type Param struct {
	Name  string
	Shape []int
	// W holds the values. G holds the gradient (accumulated by Backward),
	// nil while the parameter is frozen. M and V are the AdamW moments,
	// allocated by the first optimizer step.
	W, G, M, V kernels.Buffer
	// Bias is the bias added to this weight's layer by AddBias (BitFit),
	// nil without.
	Bias *Param
	// Derived marks a parameter computed from others (see Reparam): it
	// has a gradient buffer but Trainer does not update it.
	Derived bool
}

// Len is the number of elements.
func (p *Param) Len() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Frozen reports whether the parameter gets no gradient.
func (p *Param) Frozen() bool { return p.G == nil }

type attnParams struct {
	q, k, v, o, ln *Param
	site           Site
}

type ffnParams struct {
	wi, wi1, wo, ln *Param // wi is wi_0 when gated; wi1 is nil unless gated
	site            Site
}

type blockParams struct {
	self  attnParams
	cross *attnParams // decoder only
	ffn   ffnParams
}

// Model is a T5ForConditionalGeneration whose parameters live on a backend.
// Like its Backend, a Model is used by one goroutine at a time.
type Model struct {
	Config  Config
	Backend kernels.Backend
	// Params lists every parameter in the order of named_parameters().
	Params []*Param
	byName map[string]*Param

	act      kernels.Activation
	gated    bool
	shared   *Param
	encRel   *Param
	decRel   *Param
	enc, dec []blockParams
	encFinal *Param
	decFinal *Param
	lmHead   *Param // nil when tied
	hook     SubLayerHook
	lmBias   *Param // lm_head.bias (AddBias), nil without
	prompt   *Param // encoder prompt (SetPrompt), nil without
	reparam  Reparam
	tiedHead *Param // LM head weight replacing the tied embedding (SetTiedHead), no gradient

	training   bool
	dropSeed   uint64
	dropOffset uint64 // next element offset of the dropout stream
}

// SetTraining switches dropout on (at the config's dropout_rate) or off, as
// PyTorch's train() and eval(). Dropout masks come from the counter-based
// generator of kernels.DropoutKeep with the given seed; every dropout site
// of every pass takes the next range of counter offsets, starting from 0
// at this call, so a run is reproducible from its seed on every backend.
func (m *Model) SetTraining(on bool, seed uint64) {
	m.training, m.dropSeed, m.dropOffset = on, seed, 0
}

// Training reports whether dropout is on.
func (m *Model) Training() bool { return m.training }

// New allocates a model with zero parameters and gradient buffers for all
// of them (see Freeze).
func New(cfg Config, b kernels.Backend) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act, gated, _ := cfg.FFN()
	m := &Model{Config: cfg, Backend: b, byName: map[string]*Param{}, act: act, gated: gated}
	var err error
	add := func(name string, shape ...int) *Param {
		p := &Param{Name: name, Shape: shape}
		if err == nil {
			p.W, err = b.Alloc(kernels.Float32, p.Len())
		}
		if err == nil {
			p.G, err = b.Alloc(kernels.Float32, p.Len())
		}
		m.Params = append(m.Params, p)
		m.byName[name] = p
		return p
	}
	d, inner, ff, nb, h := cfg.DModel, cfg.Inner(), cfg.DFF, cfg.RelativeAttentionNumBuckets, cfg.NumHeads
	m.shared = add("shared.weight", cfg.VocabSize, d)
	attn := func(prefix, kind string, rel **Param) attnParams {
		a := attnParams{
			q: add(prefix+kind+".q.weight", inner, d),
			k: add(prefix+kind+".k.weight", inner, d),
			v: add(prefix+kind+".v.weight", inner, d),
			o: add(prefix+kind+".o.weight", d, inner),
		}
		if rel != nil {
			*rel = add(prefix+kind+".relative_attention_bias.weight", nb, h)
		}
		a.ln = add(prefix+"layer_norm.weight", d)
		return a
	}
	ffn := func(prefix string) ffnParams {
		var f ffnParams
		if gated {
			f.wi = add(prefix+"DenseReluDense.wi_0.weight", ff, d)
			f.wi1 = add(prefix+"DenseReluDense.wi_1.weight", ff, d)
		} else {
			f.wi = add(prefix+"DenseReluDense.wi.weight", ff, d)
		}
		f.wo = add(prefix+"DenseReluDense.wo.weight", d, ff)
		f.ln = add(prefix+"layer_norm.weight", d)
		return f
	}
	for i := 0; i < cfg.NumLayers; i++ {
		pre := fmt.Sprintf("encoder.block.%d.layer.", i)
		var rel **Param
		if i == 0 {
			rel = &m.encRel
		}
		blk := blockParams{self: attn(pre+"0.", "SelfAttention", rel), ffn: ffn(pre + "1.")}
		blk.self.site = Site{false, i, 0, SelfAttention}
		blk.ffn.site = Site{false, i, 1, FeedForward}
		m.enc = append(m.enc, blk)
	}
	m.encFinal = add("encoder.final_layer_norm.weight", d)
	for i := 0; i < cfg.NumDecoderLayers; i++ {
		pre := fmt.Sprintf("decoder.block.%d.layer.", i)
		var rel **Param
		if i == 0 {
			rel = &m.decRel
		}
		blk := blockParams{self: attn(pre+"0.", "SelfAttention", rel)}
		c := attn(pre+"1.", "EncDecAttention", nil)
		blk.cross = &c
		blk.ffn = ffn(pre + "2.")
		blk.self.site = Site{true, i, 0, SelfAttention}
		blk.cross.site = Site{true, i, 1, CrossAttention}
		blk.ffn.site = Site{true, i, 2, FeedForward}
		m.dec = append(m.dec, blk)
	}
	m.decFinal = add("decoder.final_layer_norm.weight", d)
	if !cfg.TieWordEmbeddings {
		m.lmHead = add("lm_head.weight", cfg.VocabSize, d)
	}
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("t5: allocating parameters: %w", err)
	}
	return m, nil
}

// Close frees every buffer of the model.
func (m *Model) Close() error {
	var errs []error
	for _, p := range m.Params {
		for _, b := range []kernels.Buffer{p.W, p.G, p.M, p.V} {
			if b != nil {
				errs = append(errs, m.Backend.Free(b))
			}
		}
		p.W, p.G, p.M, p.V = nil, nil, nil, nil
	}
	return errors.Join(errs...)
}

// Param returns the parameter with a Hugging Face name, or nil.
func (m *Model) Param(name string) *Param { return m.byName[name] }

// Freeze freezes (true) or unfreezes (false) the parameters whose name
// satisfies match: a frozen parameter has no gradient buffer and no
// optimizer state, and Backward does no work for it beyond what the inputs
// of trainable layers need.
func (m *Model) Freeze(match func(name string) bool, frozen bool) error {
	for _, p := range m.Params {
		if !match(p.Name) {
			continue
		}
		switch {
		case frozen && p.G != nil:
			for _, b := range []kernels.Buffer{p.G, p.M, p.V} {
				if b != nil {
					if err := m.Backend.Free(b); err != nil {
						return err
					}
				}
			}
			p.G, p.M, p.V = nil, nil, nil
		case !frozen && p.G == nil:
			g, err := m.Backend.Alloc(kernels.Float32, p.Len())
			if err != nil {
				return fmt.Errorf("t5: gradient of %s: %w", p.Name, err)
			}
			p.G = g
		}
	}
	return nil
}

// ZeroGrad sets every gradient buffer to zero.
func (m *Model) ZeroGrad() error {
	for _, p := range m.Params {
		if p.G != nil {
			if err := m.Backend.Fill(p.G, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// Load reads a Hugging Face checkpoint: a directory, or a model id such as
// "t5-base" or "google/t5-v1_1-small" found offline in the Hugging Face
// cache (see ResolveModel), with config.json and the weights in any of the
// layouts LoadWeights reads (safetensors or pytorch_model.bin, single or
// sharded, float32 or half precision). Every parameter must be present
// with its shape; the tied duplicates (encoder/decoder.embed_tokens.weight,
// lm_head.weight when tied) may be absent.
func Load(nameOrDir string, b kernels.Backend) (*Model, error) {
	dir, err := ResolveModel(nameOrDir)
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	m, err := New(cfg, b)
	if err != nil {
		return nil, err
	}
	if err := m.LoadWeights(dir); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// LoadWeights reads the parameters from the weight files of dir, the first
// of these that exists: model.safetensors.index.json (with its shards),
// model.safetensors, pytorch_model.bin.index.json (with its shards), or
// pytorch_model.bin (see OpenPyTorch). Half-precision tensors (F16, BF16)
// are widened to float32.
func (m *Model) LoadWeights(dir string) error {
	w, err := findWeights(dir)
	if err != nil {
		return err
	}
	defer w.close()
	for _, p := range m.Params {
		names := []string{p.Name}
		if p.Name == "shared.weight" {
			names = append(names, "encoder.embed_tokens.weight", "decoder.embed_tokens.weight")
		}
		f, name, err := w.find(names...)
		if err != nil {
			return err
		}
		data, err := f.Float32(name, p.Shape)
		if err != nil {
			return err
		}
		if err := m.Backend.Upload(p.W, data); err != nil {
			return fmt.Errorf("t5: uploading %s: %w", p.Name, err)
		}
	}
	return nil
}

// Save writes config.json and model.safetensors (tied duplicates dropped,
// as transformers does) into dir, creating it.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	cj, err := m.Config.JSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), append(cj, '\n'), 0o644); err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	ts := map[string]Tensor{}
	for _, p := range m.Params {
		data := make([]float32, p.Len())
		if err := m.Backend.Download(data, p.W); err != nil {
			return fmt.Errorf("t5: downloading %s: %w", p.Name, err)
		}
		ts[p.Name] = Tensor{Shape: slices.Clone(p.Shape), F32: data}
	}
	return WriteTensors(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"})
}
