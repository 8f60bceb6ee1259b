package peft

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
	"github.com/compacter-go/compacter/t5"
)

// optCfg is the tiny model of the PHM option tests (d_model 8, bottleneck
// 4 at reduction factor 2, n = 2).
var optCfg = t5.Config{VocabSize: 8, DModel: 8, DKV: 2, DFF: 8, NumLayers: 2, NumDecoderLayers: 1, NumHeads: 2,
	RelativeAttentionNumBuckets: 4, RelativeAttentionMaxDistance: 8, LayerNormEpsilon: 1e-6,
	FeedForwardProj: "relu", TieWordEmbeddings: true, EOSTokenID: 1}

// optCase is one configuration of the options.
type optCase struct {
	name string
	c    func() Config
}

func optCases() []optCase {
	with := func(m Method, f func(*Config)) func() Config {
		return func() Config {
			c, _ := Default(m)
			c.ReductionFactor, c.PHMDim = 2, 2
			f(&c)
			return c
		}
	}
	return []optCase{
		{"phm-factorized-rule", with(PHMAdapter, func(c *Config) { c.FactorizedPHMRule = true })},
		{"compacter-shared-factorized-rule", with(Compacter, func(c *Config) { c.FactorizedPHMRule = true })},
		{"phm-shared-W", with(PHMAdapter, func(c *Config) { c.SharedWPHM = true })},
		{"compacter-shared-W", with(Compacter, func(c *Config) { c.SharedWPHM = true })},
		{"compacter-all-rank2", with(Compacter, func(c *Config) {
			c.SharedWPHM, c.FactorizedPHMRule, c.PHMRank, c.NormalizePHMWeight, c.KroneckerProd = true, true, 2, true, true
		})},
		{"phm-own-rule-shared-W-rank2", with(PHMAdapter, func(c *Config) {
			c.SharedWPHM, c.FactorizedPHMRule, c.FactorizedPHMW, c.PHMRank = true, true, true, 2
		})},
		{"lowrank-rank3", with(AdapterLowRank, func(c *Config) { c.LowRankRank = 3 })},
	}
}

// optRef evaluates an adapter layer in float64 with every factored rule
// computed directly from its factors, A[i,r,c] = L[i,r,0]·R[i,0,c].
type optRef struct {
	ref64
	fake map[*factoredRule]*t5.Param // a stand-in parameter for each factored rule
}

func (r optRef) expand(l *adapterLayer) *adapterLayer {
	l2 := *l
	for _, p := range []*proj{&l2.down, &l2.up} {
		f := p.fr
		if f == nil {
			continue
		}
		fp := r.fake[f]
		if fp == nil {
			fp = &t5.Param{Name: "rule of " + f.left.Name}
			r.fake[f] = fp
		}
		n, L, R := f.n, r.p[f.left], r.p[f.right]
		a := make([]float64, n*n*n)
		for i := range n {
			for rr := range n {
				for c := range n {
					a[(i*n+rr)*n+c] = L[i*n+rr] * R[i*n+c]
				}
			}
		}
		r.p[fp] = a
		p.rule, p.fr = fp, nil
	}
	return &l2
}

func (r optRef) loss(l *adapterLayer, x, c []float64, rows int) float64 {
	return r.ref64.loss(r.expand(l), x, c, rows)
}

// forward is x + up(gelu_new(down(x))).
func (r optRef) forward(l *adapterLayer, x []float64, rows int) []float64 {
	l = r.expand(l)
	z := r.proj(&l.down, x, rows)
	for i := range z {
		z[i] = gelu64(z[i])
	}
	u := r.proj(&l.up, z, rows)
	for i := range u {
		u[i] += x[i]
	}
	return u
}

// applyRandom applies c to a fresh tiny model on be and gives every
// trainable tensor N(0, 0.5²) values, returned in float64.
func applyRandom(t *testing.T, be kernels.Backend, c Config) (*Applied, optRef) {
	t.Helper()
	m, err := t5.New(optCfg, be)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	a, err := Apply(m, c, 7)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	ref := optRef{ref64{p: map[*t5.Param][]float64{}}, map[*factoredRule]*t5.Param{}}
	for _, p := range a.Trainables {
		v := make([]float32, p.Len())
		v64 := make([]float64, len(v))
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.5)
			v64[i] = float64(v[i])
		}
		if err := be.Upload(p.W, v); err != nil {
			t.Fatal(err)
		}
		ref.p[p] = v64
	}
	return a, ref
}

// TestPHMOptionsFiniteDifferences checks the backward of each option's
// parametrisation (factored rules own and shared, shared W plain and
// factorized, rank 2, low-rank adapters of rank 3) against central
// differences of an independent float64 evaluation, on every entry of
// every tensor of the method and of the input, after one forward and
// backward of the feed-forward adapter of encoder block 1 (the shared
// tensors are also used by the other sites, which did not run).
func TestPHMOptionsFiniteDifferences(t *testing.T) {
	for _, tc := range optCases() {
		t.Run(tc.name, func(t *testing.T) {
			be := openBackend(t, "cpu")
			a, ref := applyRandom(t, be, tc.c())
			m := a.Model
			h := m.Hook().(*adapterHook)
			site := t5.Site{Block: 1, Layer: 1, Kind: t5.FeedForward}
			l := h.layers[site]
			const rows = 3
			d := optCfg.DModel
			r := rand.New(rand.NewPCG(3, 4))
			x, cv, dx := runSite(t, m, site, rows, d, r)
			const eps = 1e-6
			worst := 0.0
			check := func(name string, v []float64, got []float32) {
				for i := range v {
					old := v[i]
					v[i] = old + eps
					lp := ref.loss(l, x, cv, rows)
					v[i] = old - eps
					lm := ref.loss(l, x, cv, rows)
					v[i] = old
					fd := (lp - lm) / (2 * eps)
					e := math.Abs(fd - float64(got[i]))
					worst = max(worst, e/(1+math.Abs(fd)))
					if e > 1e-4*(1+math.Abs(fd)) {
						t.Errorf("%s[%d]: gradient %g, central difference %g", name, i, got[i], fd)
					}
				}
			}
			check("x", x, dx)
			var names []string
			for _, p := range a.Trainables {
				if isLayerNorm(p.Name) {
					continue
				}
				// Tensors of other sites have no gradient from this one.
				if strings.Contains(p.Name, "adapter_controller") && !strings.HasPrefix(p.Name, site.Prefix()) {
					for i, g := range kerneltest.Download(t, be, p.G) {
						if g != 0 {
							t.Fatalf("%s[%d]: gradient %g from a site that did not run", p.Name, i, g)
						}
					}
					continue
				}
				check(p.Name, ref.p[p], kerneltest.Download(t, be, p.G))
				names = append(names, p.Name)
			}
			if len(names) == 0 {
				t.Fatal("no tensor checked")
			}
			t.Logf("checked %v; max |Δ|/(1+|fd|) %.2g", names, worst)
		})
	}
}

// TestPHMOptionsForward compares the adapter output on every backend
// present (cpu, purego, cuda) with the direct float64 formula, at every
// site: those sharing a rule or a W read the same tensors.
func TestPHMOptionsForward(t *testing.T) {
	for _, name := range []string{"cpu", "purego", "cuda"} {
		t.Run(name, func(t *testing.T) {
			be, err := kernels.Open(name)
			if err != nil {
				t.Skipf("no %s backend: %v", name, err)
			}
			defer be.Close()
			for _, tc := range optCases() {
				a, ref := applyRandom(t, be, tc.c())
				h := a.Model.Hook().(*adapterHook)
				if len(h.layers) != 2*(optCfg.NumLayers+optCfg.NumDecoderLayers) && tc.c().AddAdapterInSelfAttention {
					t.Fatalf("%s: %d adapter sites", tc.name, len(h.layers))
				}
				const rows = 5
				d := optCfg.DModel
				r := rand.New(rand.NewPCG(5, 6))
				for site, l := range h.layers {
					x32 := make([]float32, rows*d)
					x := make([]float64, rows*d)
					for i := range x32 {
						x32[i] = float32(r.NormFloat64())
						x[i] = float64(x32[i])
					}
					y, err := be.Alloc(kernels.Float32, rows*d)
					if err != nil {
						t.Fatal(err)
					}
					if err := be.Upload(y, x32); err != nil {
						t.Fatal(err)
					}
					st, err := h.Forward(site, y, rows)
					if err != nil {
						t.Fatal(err)
					}
					got := kerneltest.Download(t, be, y)
					st.Release()
					be.Free(y)
					want := ref.forward(l, x, rows)
					var num, den float64
					for i := range want {
						num += (float64(got[i]) - want[i]) * (float64(got[i]) - want[i])
						den += want[i] * want[i]
					}
					if rel := math.Sqrt(num / den); rel > 1e-5 {
						t.Errorf("%s %s: relative error %.2g", tc.name, site.Prefix(), rel)
					}
				}
				if err := a.Remove(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestPHMOptionsNamesAndCount checks the official tensor names and shapes
// of the options and that Count equals the tensors Apply creates.
func TestPHMOptionsNamesAndCount(t *testing.T) {
	be := openBackend(t, "cpu")
	m, err := t5.New(optCfg, be)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := map[string][]string{
		"phm-factorized-rule": {"encoder.block.0.layer.0.adapter_controller.adapters.default.down_sampler.phm_rule_left [2 2 1]",
			"encoder.block.0.layer.0.adapter_controller.adapters.default.up_sampler.phm_rule_right [2 1 2]"},
		"compacter-shared-factorized-rule": {"phm_rule_left [2 2 1]", "phm_rule_right [2 1 2]"},
		"phm-shared-W":                     {"W_down [2 4 2]", "W_up [2 2 4]"},
		"compacter-shared-W":               {"phm_rule [2 2 2]", "W_down_left [2 4 1]", "W_down_right [2 1 2]", "W_up_left [2 2 1]", "W_up_right [2 1 4]"},
		"compacter-all-rank2":              {"phm_rule_left [2 2 1]", "W_down_left [2 4 2]", "W_up_right [2 2 4]"},
		"lowrank-rank3": {"decoder.block.0.layer.2.adapter_controller.adapters.default.down_sampler.W_left [8 3]",
			"decoder.block.0.layer.2.adapter_controller.adapters.default.down_sampler.W_right [3 4]"},
	}
	absent := map[string][]string{
		"phm-factorized-rule":              {"phm_rule"},
		"compacter-shared-factorized-rule": {"phm_rule", "encoder.block.0.layer.0.adapter_controller.adapters.default.down_sampler.phm_rule_left"},
		"phm-shared-W":                     {"encoder.block.0.layer.0.adapter_controller.adapters.default.down_sampler.W"},
		"compacter-shared-W":               {"encoder.block.0.layer.0.adapter_controller.adapters.default.down_sampler.W_left"},
	}
	for _, tc := range optCases() {
		c := tc.c()
		a, err := Apply(m, c, 1)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var names []string
		for _, p := range m.Params {
			names = append(names, p.Name+" "+fmt.Sprint(p.Shape))
		}
		for _, w := range want[tc.name] {
			if !slices.Contains(names, w) {
				t.Errorf("%s: no tensor %q", tc.name, w)
			}
		}
		for _, w := range absent[tc.name] {
			if m.Param(w) != nil {
				t.Errorf("%s: unexpected tensor %q", tc.name, w)
			}
		}
		tr, tot, err := Count(optCfg, c)
		if err != nil {
			t.Fatal(err)
		}
		if tr != a.Trainable() || tot != a.Total() {
			t.Errorf("%s: Count %d/%d, Apply %d/%d", tc.name, tr, tot, a.Trainable(), a.Total())
		}
		if err := a.Remove(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPHMOptionsCountT5Base checks Count at t5-base against the sizes
// worked out by hand from the official shapes (48 adapter sites, n = 4,
// d_model 768, bottleneck 24).
func TestPHMOptionsCountT5Base(t *testing.T) {
	cfg, err := t5.Preset("t5-base")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := Default(Compacter)
	tr0, tot0, err := Count(cfg, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		f     func(*Config)
		delta int64
	}{
		// The shared rule 4³ = 64 becomes 4×4×1 + 4×1×4 = 32.
		{"factorized_phm_rule", func(c *Config) { c.FactorizedPHMRule = true }, -32},
		// 48 sites of a down and an up W of 768 + 24 values each become one
		// down and one up W.
		{"shared_W_phm", func(c *Config) { c.SharedWPHM = true }, -47 * 2 * 792},
		// Accepted, no effect.
		{"normalize_phm_weight kronecker_prod", func(c *Config) { c.NormalizePHMWeight, c.KroneckerProd = true, true }, 0},
	} {
		c := base
		tc.f(&c)
		tr, tot, err := Count(cfg, c)
		if err != nil {
			t.Fatal(err)
		}
		if tr-tr0 != tc.delta || tot-tot0 != tc.delta {
			t.Errorf("%s: trainable %d total %d, want %d%+d and %d%+d", tc.name, tr, tot, tr0, tc.delta, tot0, tc.delta)
		}
	}
	lr, _ := Default(AdapterLowRank)
	lr.LowRankRank = 4
	tr, _, err := Count(cfg, lr)
	if err != nil {
		t.Fatal(err)
	}
	// Per site (768·4 + 4·24 + 24) + (24·4 + 4·768 + 768), 48 sites, and
	// the 62 layer norms of 768.
	if want := int64(48*((768*4+4*24+24)+(24*4+4*768+768)) + 62*768); tr != want {
		t.Errorf("low_rank_rank 4: trainable %d, want %d", tr, want)
	}
}

// TestParseOfficialPHMOptions checks that the official options load.
func TestParseOfficialPHMOptions(t *testing.T) {
	c, err := ParseOfficial([]byte(`{"method": "compacter", "task": "rte", "learning_rate": 0.003,
		"adapter_training_arguments": {"task_reduction_factor": 32, "non_linearity": "gelu_new",
		"hypercomplex_adapters": true, "hypercomplex_division": 4, "shared_phm_rule": true, "factorized_phm": true,
		"phm_rank": 2, "phm_init_range": 0.0001, "add_adapter_in_feed_forward": true, "add_adapter_in_self_attention": true,
		"shared_W_phm": true, "factorized_phm_rule": true, "normalize_phm_weight": true, "kronecker_prod": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.SharedWPHM || !c.FactorizedPHMRule || !c.NormalizePHMWeight || !c.KroneckerProd || c.PHMRank != 2 {
		t.Errorf("options not read: %+v", c)
	}
	if err := c.Validate(768); err != nil {
		t.Error(err)
	}
	lr, err := ParseOfficial([]byte(`{"method": "adapter-lowrank", "task": "rte", "adapter_training_arguments": {
		"task_reduction_factor": 32, "non_linearity": "gelu_new", "low_rank_adapters": true, "low_rank_rank": 4,
		"add_adapter_in_feed_forward": true, "shared_W_phm": true, "factorized_phm_rule": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	// The official code reads the PHM options only for hypercomplex adapters.
	if lr.LowRankRank != 4 || lr.SharedWPHM || lr.FactorizedPHMRule {
		t.Errorf("low-rank config: %+v", lr)
	}
	if err := lr.Validate(768); err != nil {
		t.Error(err)
	}
}

// TestPHMOptionsInvalid checks the errors of invalid combinations.
func TestPHMOptionsInvalid(t *testing.T) {
	for _, tc := range []struct {
		m    Method
		f    func(*Config)
		want string
	}{
		{Adapter, func(c *Config) { c.SharedWPHM = true }, "need hypercomplex_adapters"},
		{AdapterLowRank, func(c *Config) { c.FactorizedPHMRule = true }, "need hypercomplex_adapters"},
		{AdapterLowRank, func(c *Config) { c.LowRankRank = 0 }, "low_rank_rank 0 must be positive"},
		{Compacter, func(c *Config) { c.SharedWPHM, c.PHMRank = true, 0 }, "phm_rank 0 must be positive"},
		{Compacter, func(c *Config) { c.LowRankAdapters = true }, "exclude each other"},
	} {
		c, _ := Default(tc.m)
		tc.f(&c)
		err := c.Validate(768)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrConfig with %q", tc.m, err, tc.want)
		}
	}
}
