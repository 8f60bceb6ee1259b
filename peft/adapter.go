package peft

import (
	"errors"
	"fmt"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/t5"
)

// projKind is the parametrisation of one adapter projection.
type projKind uint8

const (
	projDense   projKind = iota // nn.Linear: y = x·Wᵀ + b, W [out, in]
	projLowRank                 // y = x·(W_left·W_right) + b, [in, r]·[r, out]
	projPHM                     // y = x·Σᵢ kron(A[i], W[i]) + b (LPHM when W[i] = W_left[i]·W_right[i])
)

// proj is one adapter projection (down_sampler or up_sampler) in → out.
type proj struct {
	kind       projKind
	in, out    int
	n, rank    int
	w, b       *t5.Param     // dense weight, bias
	rule       *t5.Param     // phm_rule (own or shared), nil with a factored rule
	fr         *factoredRule // phm_rule_left·phm_rule_right (own or shared), or nil
	pw, ps, pt *t5.Param     // PHM W, or W_left and W_right (LPHM and low-rank), own or shared
	one        kernels.Buffer
}

func grad(p *t5.Param) kernels.Buffer {
	if p == nil || p.G == nil {
		return nil
	}
	return p.G
}

func weight(p *t5.Param) kernels.Buffer {
	if p == nil {
		return nil
	}
	return p.W
}

// phmParams returns the kernel parameters of a PHM or low-rank projection.
func (p *proj) phmParams(rows int) kernels.PHMParams {
	k := kernels.PHMParams{Rows: rows, In: p.in, Out: p.out, Bias: p.b.W, Algo: kernels.PHMFused}
	switch p.kind {
	case projLowRank:
		// W_left·W_right is the LPHM of n = 1 with the rule [[1]].
		k.N, k.Rank, k.A, k.S, k.T = 1, p.rank, p.one, p.ps.W, p.pt.W
		k.DS, k.DT = grad(p.ps), grad(p.pt)
	default:
		k.N, k.Rank = p.n, p.rank
		if p.fr != nil {
			k.A = p.fr.a
			if p.fr.trains() {
				k.DA = p.fr.da
			}
		} else {
			k.A, k.DA = p.rule.W, grad(p.rule)
		}
		if p.rank > 0 {
			k.S, k.T, k.DS, k.DT = p.ps.W, p.pt.W, grad(p.ps), grad(p.pt)
		} else {
			k.W, k.DW = p.pw.W, grad(p.pw)
		}
	}
	k.DBias = grad(p.b)
	return k
}

// forward writes y = proj(x) for x [rows, in].
func (p *proj) forward(be kernels.Backend, x, y kernels.Buffer, rows int) error {
	if p.kind == projDense {
		if err := be.Gemm(kernels.GemmParams{TransB: true, M: rows, N: p.out, K: p.in, Alpha: 1, A: x, B: p.w.W, C: y}); err != nil {
			return err
		}
		return be.AddBias(y, p.b.W, rows, p.out)
	}
	if p.fr != nil {
		if err := p.fr.build(be); err != nil {
			return err
		}
	}
	k := p.phmParams(rows)
	k.X, k.Y = x, y
	return be.PHM(k)
}

// forwardAdd adds proj(x) for x [rows, in] to y: a dense projection adds
// its bias and then the product with beta 1, the PHM ones accumulate
// (kernels.PHMParams.Accumulate) — instead of writing proj(x) into y and
// adding the residual in another pass.
func (p *proj) forwardAdd(be kernels.Backend, x, y kernels.Buffer, rows int) error {
	if p.kind != projDense {
		if p.fr != nil {
			if err := p.fr.build(be); err != nil {
				return err
			}
		}
		k := p.phmParams(rows)
		k.X, k.Y, k.Accumulate = x, y, true
		return be.PHM(k)
	}
	if err := be.AddBias(y, p.b.W, rows, p.out); err != nil {
		return err
	}
	return be.Gemm(kernels.GemmParams{TransB: true, M: rows, N: p.out, K: p.in, Alpha: 1, Beta: 1, A: x, B: p.w.W, C: y})
}

// backward accumulates the gradients of the trainable tensors and writes
// dx (when not nil) for the input x and output gradient dy.
func (p *proj) backward(be kernels.Backend, x, dy, dx kernels.Buffer, rows int) error {
	return p.backwardInto(be, x, dy, dx, rows, 0)
}

// backwardInto is backward with dx ← dxBeta·dx + (the input gradient),
// dxBeta 0 or 1: 1 accumulates the input gradient onto dx (the product's
// beta, or kernels.PHMParams.Accumulate).
func (p *proj) backwardInto(be kernels.Backend, x, dy, dx kernels.Buffer, rows int, dxBeta float32) error {
	if dxBeta != 0 && dxBeta != 1 {
		return fmt.Errorf("peft: input-gradient beta %v, want 0 or 1", dxBeta)
	}
	if p.kind == projDense {
		var errs []error
		if p.w.G != nil {
			errs = append(errs, be.Gemm(kernels.GemmParams{TransA: true, M: p.out, N: p.in, K: rows, Alpha: 1, Beta: 1, A: dy, B: x, C: p.w.G}))
		}
		if p.b.G != nil {
			errs = append(errs, be.SumRows(p.b.G, dy, rows, p.out, 1))
		}
		if dx != nil {
			errs = append(errs, be.Gemm(kernels.GemmParams{M: rows, N: p.in, K: p.out, Alpha: 1, Beta: dxBeta, A: dy, B: p.w.W, C: dx}))
		}
		return errors.Join(errs...)
	}
	k := p.phmParams(rows)
	k.X, k.DY, k.DX, k.Accumulate = x, dy, dx, dxBeta == 1
	if k.DA == nil || p.fr == nil {
		return be.PHMBackward(k)
	}
	// The rule gradient of this call alone, pulled back to the factors (the
	// built rule is still L·R: the factors do not change within a pass).
	return errors.Join(be.Fill(k.DA, 0), be.PHMBackward(k), p.fr.pullback(be))
}

// adapterLayer is h ← h + (x + up(act(down(x)))) at one site.
type adapterLayer struct {
	down, up proj
}

// adapterHook is the t5.SubLayerHook of the adapter methods.
type adapterHook struct {
	be     kernels.Backend
	act    kernels.Activation
	d, hid int
	layers map[t5.Site]*adapterLayer
}

// Forward implements t5.SubLayerHook.
func (h *adapterHook) Forward(site t5.Site, y kernels.Buffer, rows int) (t5.HookState, error) {
	l := h.layers[site]
	if l == nil {
		return nil, nil
	}
	st := &adapterState{h: h, l: l, rows: rows}
	var err error
	alloc := func(n int) kernels.Buffer {
		if err != nil {
			return nil
		}
		var b kernels.Buffer
		b, err = h.be.Alloc(kernels.Float32, n)
		if err == nil {
			st.bufs = append(st.bufs, b)
		}
		return b
	}
	st.x, st.z, st.a = alloc(rows*h.d), alloc(rows*h.hid), alloc(rows*h.hid)
	if err != nil {
		st.Release()
		return nil, fmt.Errorf("peft: %w", err)
	}
	be := h.be
	// y keeps the input (x) and takes up(act(down(x))) on top.
	if err = errors.Join(
		be.Copy(st.x, y),
		l.down.forward(be, st.x, st.z, rows),
		be.Act(h.act, st.a, st.z)); err == nil {
		err = l.up.forwardAdd(be, st.a, y, rows)
	}
	if err != nil {
		st.Release()
		return nil, err
	}
	return st, nil
}

// Trainable implements t5.SubLayerHook.
func (h *adapterHook) Trainable(site t5.Site) bool {
	l := h.layers[site]
	if l == nil {
		return false
	}
	for _, p := range []*t5.Param{l.down.w, l.down.b, l.down.rule, l.down.pw, l.down.ps, l.down.pt,
		l.up.w, l.up.b, l.up.rule, l.up.pw, l.up.ps, l.up.pt} {
		if p != nil && p.G != nil {
			return true
		}
	}
	return l.down.fr != nil && l.down.fr.trains() || l.up.fr != nil && l.up.fr.trains()
}

// adapterState keeps the input x, the bottleneck pre-activation z and its
// activation a of one adapter call.
type adapterState struct {
	h       *adapterHook
	l       *adapterLayer
	rows    int
	x, z, a kernels.Buffer
	bufs    []kernels.Buffer
}

// Backward implements t5.HookState: dy ← dy + downᵀ(act'(z)·upᵀ(dy)).
func (st *adapterState) Backward(dy kernels.Buffer) error {
	be, h, rows := st.h.be, st.h, st.rows
	da, err := be.Alloc(kernels.Float32, rows*h.hid)
	if err != nil {
		return fmt.Errorf("peft: %w", err)
	}
	defer be.Free(da)
	// The input gradient accumulates onto dy itself, which the up
	// projection's backward has read by then.
	return errors.Join(
		st.l.up.backward(be, st.a, dy, da, rows),
		be.ActBackward(h.act, da, da, st.z),
		st.l.down.backwardInto(be, st.x, da, dy, rows, 1))
}

// Release implements t5.HookState.
func (st *adapterState) Release() error {
	var errs []error
	for _, b := range st.bufs {
		errs = append(errs, st.h.be.Free(b))
	}
	st.bufs = nil
	return errors.Join(errs...)
}
