package peft

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
	"github.com/compacter-go/compacter/t5"
)

// gelu64 is gelu_new in float64.
func gelu64(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

// ref64 evaluates an adapter layer in float64 from host copies of its
// tensors: out = x + up(gelu_new(down(x))).
type ref64 struct {
	p map[*t5.Param][]float64
}

func (r ref64) proj(pr *proj, x []float64, rows int) []float64 {
	in, out := pr.in, pr.out
	H := make([]float64, in*out) // [in, out]
	switch pr.kind {
	case projDense:
		w := r.p[pr.w]
		for i := range in {
			for o := range out {
				H[i*out+o] = w[o*in+i]
			}
		}
	case projLowRank:
		s, tt := r.p[pr.ps], r.p[pr.pt]
		for i := range in {
			for o := range out {
				for k := range pr.rank {
					H[i*out+o] += s[i*pr.rank+k] * tt[k*out+o]
				}
			}
		}
	case projPHM:
		n, a := pr.n, r.p[pr.rule]
		bi, bo := in/n, out/n
		w := make([]float64, n*bi*bo)
		if pr.rank > 0 {
			s, tt := r.p[pr.ps], r.p[pr.pt]
			for i := range n {
				for u := range bi {
					for v := range bo {
						for k := range pr.rank {
							w[(i*bi+u)*bo+v] += s[(i*bi+u)*pr.rank+k] * tt[(i*pr.rank+k)*bo+v]
						}
					}
				}
			}
		} else {
			copy(w, r.p[pr.pw])
		}
		for i := range n {
			for rr := range n {
				for c := range n {
					for u := range bi {
						for v := range bo {
							H[(rr*bi+u)*out+c*bo+v] += a[(i*n+rr)*n+c] * w[(i*bi+u)*bo+v]
						}
					}
				}
			}
		}
	}
	b := r.p[pr.b]
	y := make([]float64, rows*out)
	for q := range rows {
		for o := range out {
			s := b[o]
			for i := range in {
				s += x[q*in+i] * H[i*out+o]
			}
			y[q*out+o] = s
		}
	}
	return y
}

func (r ref64) loss(l *adapterLayer, x, c []float64, rows int) float64 {
	z := r.proj(&l.down, x, rows)
	for i := range z {
		z[i] = gelu64(z[i])
	}
	u := r.proj(&l.up, z, rows)
	var s float64
	for i := range u {
		s += c[i] * (x[i] + u[i])
	}
	return s
}

// TestAdapterFiniteDifferences checks the backward of every adapter
// parametrisation (nn.Linear, low-rank, PHM, Compacter's LPHM with a shared
// rule) against central differences (h = 1e-6) of an independent float64
// evaluation of the layer, on every entry of every tensor and of the
// input, for the scalar L = Σ c ⊙ adapter(x) with random c.
func TestAdapterFiniteDifferences(t *testing.T) {
	cfg := t5.Config{VocabSize: 8, DModel: 8, DKV: 2, DFF: 8, NumLayers: 1, NumDecoderLayers: 1, NumHeads: 2,
		RelativeAttentionNumBuckets: 4, RelativeAttentionMaxDistance: 8, LayerNormEpsilon: 1e-6,
		FeedForwardProj: "relu", TieWordEmbeddings: true, EOSTokenID: 1}
	for _, meth := range []Method{Adapter, AdapterLowRank, PHMAdapter, Compacter} {
		t.Run(string(meth), func(t *testing.T) {
			be := openBackend(t, "cpu")
			m, err := t5.New(cfg, be)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			c, _ := Default(meth)
			c.ReductionFactor, c.PHMDim = 2, 2
			a, err := Apply(m, c, 7)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			ref := ref64{p: map[*t5.Param][]float64{}}
			for _, p := range a.Trainables {
				v := make([]float32, p.Len())
				for i := range v {
					v[i] = float32(r.NormFloat64() * 0.5)
				}
				if err := be.Upload(p.W, v); err != nil {
					t.Fatal(err)
				}
				v64 := make([]float64, len(v))
				for i := range v {
					v64[i] = float64(v[i])
				}
				ref.p[p] = v64
			}
			h := m.Hook().(*adapterHook)
			site := t5.Site{Block: 0, Layer: 1, Kind: t5.FeedForward}
			l := h.layers[site]
			const rows = 3
			d := cfg.DModel
			x, cv, dx := runSite(t, m, site, rows, d, r)
			const eps = 1e-6
			check := func(name string, v []float64, got []float32) float64 {
				worst := 0.0
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
				return worst
			}
			worst := check("x", x, dx)
			n := 0
			for p, v := range ref.p {
				if !isLayerNorm(p.Name) {
					worst = max(worst, check(p.Name, v, kerneltest.Download(t, be, p.G)))
					n++
				}
			}
			if n != len(a.added) || n == 0 {
				t.Errorf("checked %d tensors, want the %d of the method", n, len(a.added))
			}
			t.Logf("max |Δ|/(1+|fd|) %.2g", worst)
		})
	}
}

// runSite runs one forward and backward of the adapter hook of m at site on
// rows random rows of width d, with a random cotangent, both drawn from r.
// It returns the input and the cotangent in float64 and the input gradient
// the backward wrote; the method's parameter gradients are left in their
// buffers (zeroed before the pass).
func runSite(t *testing.T, m *t5.Model, site t5.Site, rows, d int, r *rand.Rand) (x, cv []float64, dx []float32) {
	t.Helper()
	be, h := m.Backend, m.Hook().(*adapterHook)
	x32, c32 := make([]float32, rows*d), make([]float32, rows*d)
	x, cv = make([]float64, rows*d), make([]float64, rows*d)
	for i := range x32 {
		x32[i], c32[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		x[i], cv[i] = float64(x32[i]), float64(c32[i])
	}
	y, err := be.Alloc(kernels.Float32, rows*d)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Free(y)
	dy, err := be.Alloc(kernels.Float32, rows*d)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Free(dy)
	if err := be.Upload(y, x32); err != nil {
		t.Fatal(err)
	}
	if err := m.ZeroGrad(); err != nil {
		t.Fatal(err)
	}
	st, err := h.Forward(site, y, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Release()
	if err := be.Upload(dy, c32); err != nil {
		t.Fatal(err)
	}
	if err := st.Backward(dy); err != nil {
		t.Fatal(err)
	}
	return x, cv, kerneltest.Download(t, be, dy)
}
