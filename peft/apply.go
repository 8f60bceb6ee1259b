package peft

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/t5"
)

// Applied is a method applied to a model: the base is frozen, the
// method's tensors are added to the model's parameters and its sub-layer
// hook is installed.
type Applied struct {
	Config Config
	Model  *t5.Model
	// Trainables lists the trainable parameters (the method's tensors and
	// the unfrozen base tensors), in the model's parameter order.
	Trainables []*t5.Param
	added      []string                // names of the tensors added by AddParam
	biases     []string                // weights given a bias by AddBias
	said       *said                   // Intrinsic-SAID state, nil for other methods
	seed       uint64                  // seed of the initialisation and of SAID's projections
	base       map[*t5.Param][]float32 // values of unfrozen base tensors, restored by Remove
	one        kernels.Buffer          // the rule [[1]] of low-rank adapters (PHM of n = 1)
	rules      []*factoredRule         // the factored rules (factorized_phm_rule), for their buffers
}

// Apply freezes the base model, creates the method's tensors (initialised
// as the official code initialises them, from seed) and installs the
// method. Parameter names are the official code's named_parameters names.
func Apply(m *t5.Model, c Config, seed uint64) (*Applied, error) {
	if err := c.Validate(m.Config.DModel); err != nil {
		return nil, err
	}
	var n int64
	for _, p := range m.Params {
		n += int64(p.Len())
	}
	if m.Hook() != nil || n != m.Config.NumParams() {
		return nil, errors.New("peft: the model already has a method applied (Remove it first)")
	}
	a := &Applied{Config: c, Model: m, seed: seed}
	if err := a.apply(seed); err != nil {
		a.Remove()
		return nil, err
	}
	return a, nil
}

func (a *Applied) apply(seed uint64) error {
	m, c := a.Model, a.Config
	switch {
	case c.Method == FullFinetune:
		if err := m.Freeze(func(string) bool { return true }, false); err != nil {
			return err
		}
	case c.adapterMethod():
		if err := m.Freeze(func(string) bool { return true }, true); err != nil {
			return err
		}
		if c.UnfreezeLayerNorms {
			if err := a.keepBase(isLayerNorm); err != nil {
				return err
			}
			if err := m.Freeze(isLayerNorm, false); err != nil {
				return err
			}
		}
		if err := a.addAdapters(rand.New(rand.NewPCG(seed, 0x70656674))); err != nil {
			return err
		}
	case c.Method == BitFit:
		if err := m.Freeze(func(string) bool { return true }, true); err != nil {
			return err
		}
		if err := a.addBiases(); err != nil {
			return err
		}
	case c.Method == PromptTuning:
		if err := m.Freeze(func(string) bool { return true }, true); err != nil {
			return err
		}
		if err := a.addPrompt(rand.New(rand.NewPCG(seed, 0x70656674))); err != nil {
			return err
		}
	case c.Method == IntrinsicSAID:
		if err := a.addSAID(seed); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: unknown method %q", ErrConfig, c.Method)
	}
	for _, p := range m.Params {
		if !p.Frozen() && !p.Derived {
			a.Trainables = append(a.Trainables, p)
		}
	}
	return nil
}

// Pullback turns the gradients that Pass.Backward left in derived tensors
// into those of the trained ones (Intrinsic-SAID; nothing for the other
// methods). Trainer calls it itself; call it after Backward outside one.
func (a *Applied) Pullback() error {
	if a.said == nil {
		return nil
	}
	return a.said.Pullback()
}

// Project re-applies the method's reparametrisation after the caller
// changed its trained tensors outside a t5.Trainer (an optimizer step of
// its own, an upload): Intrinsic-SAID recomputes every base tensor as
// θ0 + λ·P(θ_d); nothing for the other methods. Trainer's Update calls it
// itself, as LoadTensors does.
func (a *Applied) Project() error {
	if a.said == nil {
		return nil
	}
	return a.said.Project()
}

// isLayerNorm matches the block and final T5 layer norms.
func isLayerNorm(name string) bool {
	return strings.HasSuffix(name, "layer_norm.weight") && !strings.Contains(name, "adapter")
}

// Trainable is the number of trainable values.
func (a *Applied) Trainable() int64 {
	var n int64
	for _, p := range a.Trainables {
		n += int64(p.Len())
	}
	return n
}

// Total is the number of values of the model with the method (tied
// tensors once).
func (a *Applied) Total() int64 {
	var n int64
	for _, p := range a.Model.Params {
		n += int64(p.Len())
	}
	return n
}

// keepBase keeps host copies of the base tensors that match, for Remove.
func (a *Applied) keepBase(match func(string) bool) error {
	a.base = map[*t5.Param][]float32{}
	for _, p := range a.Model.Params {
		if match(p.Name) {
			v := make([]float32, p.Len())
			if err := a.Model.Backend.Download(v, p.W); err != nil {
				return err
			}
			a.base[p] = v
		}
	}
	return nil
}

// Remove uninstalls the method: its tensors are freed and removed from the
// model, and base tensors it trained (the layer norms of the adapter
// methods, the weights under Intrinsic-SAID) get their values from before
// Apply back, so that another method can be applied to the same base. The
// whole model stays frozen. Full fine-tuning keeps its trained weights.
func (a *Applied) Remove() error {
	m := a.Model
	var errs []error
	for p, v := range a.base {
		errs = append(errs, m.Backend.Upload(p.W, v))
	}
	a.base = nil
	errs = append(errs, m.Freeze(func(string) bool { return true }, true))
	m.SetHook(nil)
	errs = append(errs, m.SetPrompt(""))
	if a.said != nil {
		errs = append(errs, a.said.remove())
		a.said = nil
	}
	for _, w := range a.biases {
		errs = append(errs, m.RemoveBias(w))
	}
	a.biases = nil
	for _, name := range a.added {
		errs = append(errs, m.RemoveParam(name))
	}
	a.added, a.Trainables = nil, nil
	if a.one != nil {
		errs = append(errs, m.Backend.Free(a.one))
		a.one = nil
	}
	for _, f := range a.rules {
		errs = append(errs, f.free(m.Backend))
	}
	a.rules = nil
	return errors.Join(errs...)
}

// add creates a method tensor with values from init.
func (a *Applied) add(name string, init func() float32, shape ...int) (*t5.Param, error) {
	p, err := a.Model.AddParam(name, shape...)
	if err != nil {
		return nil, err
	}
	a.added = append(a.added, name)
	v := make([]float32, p.Len())
	for i := range v {
		v[i] = init()
	}
	if err := a.Model.Backend.Upload(p.W, v); err != nil {
		return nil, fmt.Errorf("peft: %s: %w", name, err)
	}
	return p, nil
}

func normal(r *rand.Rand, std float64) func() float32 {
	return func() float32 { return float32(r.NormFloat64() * std) }
}

// glorot is xavier_uniform_ of a [rows, cols] matrix with a gain.
func glorot(r *rand.Rand, rows, cols int, gain float64) func() float32 {
	bound := gain * math.Sqrt(6/float64(rows+cols))
	return func() float32 { return float32((2*r.Float64() - 1) * bound) }
}

func zero() float32 { return 0 }

// addAdapters creates the adapter tensors and installs the hook.
func (a *Applied) addAdapters(r *rand.Rand) error {
	m, c := a.Model, a.Config
	d := m.Config.DModel
	act, err := kernels.ParseActivation(c.NonLinearity)
	if err != nil {
		return fmt.Errorf("%w: non_linearity: %v", ErrConfig, err)
	}
	h := &adapterHook{be: m.Backend, act: act, d: d, hid: d / c.ReductionFactor, layers: map[t5.Site]*adapterLayer{}}
	var shared *t5.Param
	var sharedFR *factoredRule
	var sharedDown, sharedUp sharedW
	if c.HypercomplexAdapters {
		n := c.PHMDim
		switch {
		case c.SharedPHMRule && c.FactorizedPHMRule:
			if sharedFR, err = a.addFactoredRule("", n, normal(r, c.PHMInitRange)); err != nil {
				return err
			}
		case c.SharedPHMRule:
			if shared, err = a.add("phm_rule", normal(r, c.PHMInitRange), n, n, n); err != nil {
				return err
			}
		}
		if c.SharedWPHM {
			init := func(rows, cols int) func() float32 { return glorot(r, rows, cols, 1) }
			if sharedDown, err = a.addSharedW("down", d, h.hid, init); err != nil {
				return err
			}
			if sharedUp, err = a.addSharedW("up", h.hid, d, init); err != nil {
				return err
			}
		}
	}
	if c.LowRankAdapters {
		if a.one, err = m.Backend.Alloc(kernels.Float32, 1); err != nil {
			return fmt.Errorf("peft: %w", err)
		}
		if err := m.Backend.Fill(a.one, 1); err != nil {
			return err
		}
	}
	newProj := func(prefix string, in, out int, sw sharedW) (proj, error) {
		p := proj{in: in, out: out, one: a.one}
		var err error
		switch {
		case c.LowRankAdapters:
			p.kind, p.n, p.rank = projLowRank, 1, c.LowRankRank
			if p.ps, err = a.add(prefix+"W_left", glorot(r, in, p.rank, math.Sqrt2), in, p.rank); err != nil {
				return p, err
			}
			if p.pt, err = a.add(prefix+"W_right", glorot(r, p.rank, out, math.Sqrt2), p.rank, out); err != nil {
				return p, err
			}
			p.b, err = a.add(prefix+"b", zero, out)
		case c.HypercomplexAdapters:
			n := c.PHMDim
			p.kind, p.n = projPHM, n
			p.rule, p.fr = shared, sharedFR
			switch {
			case c.SharedPHMRule:
			case c.FactorizedPHMRule:
				if p.fr, err = a.addFactoredRule(prefix, n, normal(r, 0.01)); err != nil {
					return p, err
				}
			default:
				if p.rule, err = a.add(prefix+"phm_rule", normal(r, 0.01), n, n, n); err != nil {
					return p, err
				}
			}
			if c.FactorizedPHMW {
				p.rank = c.PHMRank
			}
			switch {
			case c.SharedWPHM:
				p.pw, p.ps, p.pt = sw.w, sw.s, sw.t
			case c.FactorizedPHMW:
				if p.ps, err = a.add(prefix+"W_left", glorot(r, in/n, p.rank, 1), n, in/n, p.rank); err != nil {
					return p, err
				}
				if p.pt, err = a.add(prefix+"W_right", glorot(r, p.rank, out/n, 1), n, p.rank, out/n); err != nil {
					return p, err
				}
			default:
				if p.pw, err = a.add(prefix+"W", glorot(r, in/n, out/n, 1), n, in/n, out/n); err != nil {
					return p, err
				}
			}
			p.b, err = a.add(prefix+"b", zero, out)
		default:
			p.kind = projDense
			if p.w, err = a.add(prefix+"weight", normal(r, 0.01), out, in); err != nil {
				return p, err
			}
			p.b, err = a.add(prefix+"bias", zero, out)
		}
		return p, err
	}
	for _, dec := range []bool{false, true} {
		nb := m.Config.NumLayers
		if dec {
			nb = m.Config.NumDecoderLayers
		}
		for i := 0; i < nb; i++ {
			if !c.adapterBlock(dec, i) {
				continue
			}
			ffnLayer := 1
			if dec {
				ffnLayer = 2
			}
			var sites []t5.Site
			if c.AddAdapterInSelfAttention {
				sites = append(sites, t5.Site{Decoder: dec, Block: i, Layer: 0, Kind: t5.SelfAttention})
			}
			if c.AddAdapterInFeedForward {
				sites = append(sites, t5.Site{Decoder: dec, Block: i, Layer: ffnLayer, Kind: t5.FeedForward})
			}
			for _, s := range sites {
				pre := s.Prefix() + "adapter_controller.adapters." + c.Task + "."
				l := &adapterLayer{}
				if l.down, err = newProj(pre+"down_sampler.", d, h.hid, sharedDown); err != nil {
					return err
				}
				if l.up, err = newProj(pre+"up_sampler.", h.hid, d, sharedUp); err != nil {
					return err
				}
				h.layers[s] = l
			}
		}
	}
	m.SetHook(h)
	return nil
}

// LoadTensors reads the method's tensors from a safetensors file under
// their names (as the official code's peft.safetensors and Save name
// them); unfrozen base tensors present in the file are read too.
func (a *Applied) LoadTensors(path string) error {
	f, err := t5.OpenTensors(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if a.said != nil {
		if err := a.said.loadReference(f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, p := range a.Trainables {
		if !f.Has(p.Name) {
			if a.isAdded(p.Name) {
				return fmt.Errorf("%w: %s: no tensor %s", t5.ErrCheckpoint, path, p.Name)
			}
			continue
		}
		v, err := f.Float32(p.Name, p.Shape)
		if err != nil {
			return err
		}
		if err := a.Model.Backend.Upload(p.W, v); err != nil {
			return fmt.Errorf("peft: %s: %w", p.Name, err)
		}
	}
	if a.said != nil {
		return a.said.Project()
	}
	return nil
}

func (a *Applied) isAdded(name string) bool {
	if slices.Contains(a.added, name) {
		return true
	}
	for _, w := range a.biases {
		if strings.TrimSuffix(w, ".weight")+".bias" == name {
			return true
		}
	}
	return false
}

// addBiases adds the BitFit biases where the official code adds them:
// every attention and feed-forward Linear, every block layer norm, and
// lm_head.
func (a *Applied) addBiases() error {
	m := a.Model
	var weights []string
	for _, p := range m.Params {
		n := p.Name
		if !strings.Contains(n, ".block.") || strings.Contains(n, "relative_attention_bias") {
			continue
		}
		weights = append(weights, n)
	}
	weights = append(weights, "lm_head.weight")
	for _, w := range weights {
		if _, err := m.AddBias(w); err != nil {
			return err
		}
		a.biases = append(a.biases, w)
	}
	return nil
}

// addPrompt creates prefix_shared [prefix_dim, d_model] and makes it the
// model's encoder prompt: the first prefix_dim rows of the vocabulary
// embedding (init_prefix_from_vocab, as the official code), or
// N(0, 1) draws (the embedding's initialisation) otherwise.
func (a *Applied) addPrompt(r *rand.Rand) error {
	m, c := a.Model, a.Config
	P, d := c.PrefixDim, m.Config.DModel
	if P <= 0 {
		return fmt.Errorf("%w: prefix_dim %d must be positive", ErrConfig, P)
	}
	p, err := a.add("prefix_shared", normal(r, 1), P, d)
	if err != nil {
		return err
	}
	if c.InitPrefixFromVocab {
		if P > m.Config.VocabSize {
			return fmt.Errorf("%w: prefix_dim %d exceeds the vocabulary %d", ErrConfig, P, m.Config.VocabSize)
		}
		if err := m.Backend.Copy(p.W, m.Param("shared.weight").W.Slice(0, P*d)); err != nil {
			return err
		}
	}
	return m.SetPrompt(p.Name)
}
