package t5

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
)

// refModel is an independent float64 host implementation of the T5 loss,
// written with explicit per-head loops on the float64 references of
// kerneltest, used for finite differences.
type refModel struct {
	cfg  Config
	p    map[string][]float64
	drop float32 // dropout rate (0: off)
	seed uint64
	off  uint64 // next dropout offset, in the model's order of sites
}

func (r *refModel) dropout(x []float64) []float64 {
	if r.drop == 0 {
		return x
	}
	y := kerneltest.Dropout(x, r.drop, r.seed, r.off)
	r.off += uint64(len(x))
	return y
}

func (r *refModel) linear(x []float64, name string, rows, in, out int) []float64 {
	y := make([]float64, rows*out)
	kerneltest.Gemm(false, true, rows, out, in, 1, x, in, r.p[name], in, 0, y, out)
	return y
}

func (r *refModel) norm(x []float64, name string, rows int) []float64 {
	y, _ := kerneltest.RMSNorm(x, r.p[name], rows, r.cfg.DModel, r.cfg.LayerNormEpsilon)
	return y
}

// attention returns o(attn(norm(h))) for queries h [B·tq, D] and keys kv
// [B·tk, D] (kv = nil: self-attention on the normed h).
func (r *refModel) attention(pre string, h, kv []float64, B, tq, tk int, bias func(hd, i, j int) float64, mask func(b, j int) float64, causal bool) []float64 {
	c := r.cfg
	D, H, dk, inner := c.DModel, c.NumHeads, c.DKV, c.Inner()
	xn := r.norm(h, pre+"layer_norm.weight", B*tq)
	src := xn
	if kv != nil {
		src = kv
	}
	kind := "SelfAttention"
	if kv != nil {
		kind = "EncDecAttention"
	}
	q := r.linear(xn, pre+kind+".q.weight", B*tq, D, inner)
	k := r.linear(src, pre+kind+".k.weight", B*tk, D, inner)
	v := r.linear(src, pre+kind+".v.weight", B*tk, D, inner)
	probs := make([]float64, B*H*tq*tk)
	for b := 0; b < B; b++ {
		for hd := 0; hd < H; hd++ {
			for i := 0; i < tq; i++ {
				s := probs[((b*H+hd)*tq+i)*tk : ((b*H+hd)*tq+i+1)*tk]
				mx := math.Inf(-1)
				for j := 0; j < tk; j++ {
					var dot float64
					for d := 0; d < dk; d++ {
						dot += q[(b*tq+i)*inner+hd*dk+d] * k[(b*tk+j)*inner+hd*dk+d]
					}
					s[j] = dot + bias(hd, i, j) + mask(b, j)
					if causal && j > i {
						s[j] += -10000
					}
					mx = max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for j := range s {
					s[j] /= sum
				}
			}
		}
	}
	probs = r.dropout(probs)
	ctx := make([]float64, B*tq*inner)
	for b := 0; b < B; b++ {
		for hd := 0; hd < H; hd++ {
			for i := 0; i < tq; i++ {
				for j := 0; j < tk; j++ {
					pr := probs[((b*H+hd)*tq+i)*tk+j]
					for d := 0; d < dk; d++ {
						ctx[(b*tq+i)*inner+hd*dk+d] += pr * v[(b*tk+j)*inner+hd*dk+d]
					}
				}
			}
		}
	}
	return r.dropout(r.linear(ctx, pre+kind+".o.weight", B*tq, inner, D))
}

func (r *refModel) ffn(pre string, h []float64, rows int) []float64 {
	c := r.cfg
	act, gated, _ := c.FFN()
	xn := r.norm(h, pre+"layer_norm.weight", rows)
	var a []float64
	if gated {
		a = kerneltest.Act(act, r.linear(xn, pre+"DenseReluDense.wi_0.weight", rows, c.DModel, c.DFF))
		a = kerneltest.Binary(kernels.Mul, a, r.linear(xn, pre+"DenseReluDense.wi_1.weight", rows, c.DModel, c.DFF))
	} else {
		a = kerneltest.Act(act, r.linear(xn, pre+"DenseReluDense.wi.weight", rows, c.DModel, c.DFF))
	}
	a = r.dropout(a)
	return r.dropout(r.linear(a, pre+"DenseReluDense.wo.weight", rows, c.DFF, c.DModel))
}

func add(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

func (r *refModel) loss(batch Batch) float64 {
	c := r.cfg
	B, S, T, D, H := batch.B, batch.S, batch.T, c.DModel, c.NumHeads
	posBias := func(name string, bidir bool) func(hd, i, j int) float64 {
		tab := r.p[name]
		return func(hd, i, j int) float64 {
			return tab[relativePositionBucket(j-i, bidir, c.RelativeAttentionNumBuckets, c.RelativeAttentionMaxDistance)*H+hd]
		}
	}
	padMask := func(v float64) func(b, j int) float64 {
		return func(b, j int) float64 {
			if batch.AttentionMask != nil && batch.AttentionMask[b*S+j] == 0 {
				return v
			}
			return 0
		}
	}
	none := func(int, int, int) float64 { return 0 }
	noMask := func(int, int) float64 { return 0 }
	r.off = 0
	h := r.dropout(kerneltest.Embedding(r.p["shared.weight"], batch.InputIDs, D))
	encBias := posBias("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", true)
	for i := 0; i < c.NumLayers; i++ {
		pre := "encoder.block." + strconv.Itoa(i) + ".layer."
		h = add(h, r.attention(pre+"0.", h, nil, B, S, S, encBias, padMask(-10000), false))
		h = add(h, r.ffn(pre+"1.", h, B*S))
	}
	enc := r.dropout(r.norm(h, "encoder.final_layer_norm.weight", B*S))
	dec := batch.DecoderInputIDs
	if dec == nil {
		dec = ShiftRight(batch.Labels, B, T, int32(c.DecoderStartTokenID), int32(c.PadTokenID))
	}
	h = r.dropout(kerneltest.Embedding(r.p["shared.weight"], dec, D))
	decBias := posBias("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", false)
	for i := 0; i < c.NumDecoderLayers; i++ {
		pre := "decoder.block." + strconv.Itoa(i) + ".layer."
		h = add(h, r.attention(pre+"0.", h, nil, B, T, T, decBias, noMask, true))
		h = add(h, r.attention(pre+"1.", h, enc, B, T, S, none, padMask(-1e9), false))
		h = add(h, r.ffn(pre+"2.", h, B*T))
	}
	y := r.dropout(r.norm(h, "decoder.final_layer_norm.weight", B*T))
	head := "lm_head.weight"
	if c.TieWordEmbeddings {
		head = "shared.weight"
		kerneltest.Scale(y, math.Pow(float64(D), -0.5))
	}
	logits := r.linear(y, head, B*T, D, c.VocabSize)
	rows, _ := kerneltest.CrossEntropy(logits, batch.Labels, B*T, c.VocabSize, IgnoreIndex, 1)
	var sum float64
	n := 0
	for i, l := range batch.Labels {
		if l != IgnoreIndex {
			sum += rows[i]
			n++
		}
	}
	return sum / float64(n)
}

// TestFiniteDifferences checks the float32 backward of the whole model
// against central differences of the float64 reference loss, on random
// entries (and the largest-gradient entry) of every parameter tensor,
// without and with dropout (the same counter-based masks in both).
func TestFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		c       string
		drop    float32
		reassoc bool // every cross-attention reassociated (crossattn.go)
	}{{"tiny-relu", 0, false}, {"tiny-gated", 0, false}, {"tiny-relu", 0.3, false}, {"tiny-gated", 0.2, false},
		{"tiny-relu", 0, true}, {"tiny-gated", 0.2, true}} {
		c := tc.c
		t.Run(fmt.Sprintf("%s/dropout=%v/reassoc=%v", c, tc.drop, tc.reassoc), func(t *testing.T) {
			if tc.reassoc {
				old := crossReassoc
				crossReassoc = 1
				defer func() { crossReassoc = old }()
			}
			be := openBackend(t, "cpu")
			m, batch, _ := loadRef(t, be, c)
			const seed = 99
			if tc.drop != 0 {
				m.Config.DropoutRate = float64(tc.drop)
				m.SetTraining(true, seed)
			}
			ref := &refModel{cfg: m.Config, p: map[string][]float64{}, drop: tc.drop, seed: seed}
			for _, p := range m.Params {
				ref.p[p.Name] = kerneltest.F64(kerneltest.Download(t, be, p.W))
			}
			if err := m.ZeroGrad(); err != nil {
				t.Fatal(err)
			}
			ps, err := m.Forward(batch, true)
			if err != nil {
				t.Fatal(err)
			}
			defer ps.Release()
			if err := ps.Backward(); err != nil {
				t.Fatal(err)
			}
			l64 := ref.loss(batch)
			if d := math.Abs(l64 - ps.Loss); d > 1e-5 {
				t.Errorf("float64 reference loss %v, float32 model %v", l64, ps.Loss)
			}
			if tc.drop != 0 {
				// The masks must matter: the loss differs from evaluation mode.
				ref.drop = 0
				if eval := ref.loss(batch); math.Abs(eval-l64) < 1e-3 {
					t.Errorf("dropout loss %v too close to the evaluation loss %v", l64, eval)
				}
				ref.drop = tc.drop
			}
			rng := rand.New(rand.NewPCG(1, 2))
			const h = 1e-4
			worst := 0.0
			checked := 0
			for _, p := range m.Params {
				g := kerneltest.Download(t, be, p.G)
				gmax, imax := 0.0, 0
				for i, v := range g {
					if math.Abs(float64(v)) > gmax {
						gmax, imax = math.Abs(float64(v)), i
					}
				}
				idx := []int{imax, rng.IntN(len(g)), rng.IntN(len(g)), rng.IntN(len(g))}
				w := ref.p[p.Name]
				for _, i := range idx {
					orig := w[i]
					w[i] = orig + h
					lp := ref.loss(batch)
					w[i] = orig - h
					lm := ref.loss(batch)
					w[i] = orig
					fd := (lp - lm) / (2 * h)
					d := math.Abs(fd - float64(g[i]))
					worst = max(worst, d/gmax)
					checked++
					if d > 1e-4*gmax+1e-7 {
						t.Errorf("%s[%d]: backward %.7g, finite difference %.7g", p.Name, i, g[i], fd)
					}
				}
			}
			t.Logf("%d entries of %d tensors; worst |Δ|/max|g| %.2g; float64 loss − float32 loss %.2g", checked, len(m.Params), worst, l64-ps.Loss)
		})
	}
}

// Bucket values worked out by hand from transformers' _relative_position_bucket
// (the reference cases check the buckets the models use end to end).
func TestRelativePositionBucket(t *testing.T) {
	for _, tc := range []struct {
		rel, nb int
		bidir   bool
		want    int
	}{
		{0, 32, true, 0}, {-1, 32, true, 1}, {1, 32, true, 17}, {-8, 32, true, 8},
		{-127, 32, true, 15}, {-200, 32, true, 15}, {200, 32, true, 31}, {12, 32, true, 16 + 8 + 1},
		{0, 32, false, 0}, {5, 32, false, 0}, {-15, 32, false, 15}, {-20, 32, false, 17},
		{-1000, 32, false, 31}, {-3, 8, true, 2}, {3, 8, true, 4 + 2}, {-1, 8, true, 1}, {2, 8, true, 4 + 2},
	} {
		if got := relativePositionBucket(tc.rel, tc.bidir, tc.nb, 128); got != tc.want {
			t.Errorf("bucket(%d, bidirectional %v, %d buckets) = %d, want %d", tc.rel, tc.bidir, tc.nb, got, tc.want)
		}
	}
}
