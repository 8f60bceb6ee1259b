//go:build linux && cgo && !nocuda

package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/cpu"
	"github.com/compacter-go/compacter/kernels"
)

// phmCase is a PHM layer shape: In, Out, N, Rank.
type phmCase struct{ in, out, n, rank int }

// kronWeights are random weights of a layer, scaled so that H is O(1).
type kronWeights struct{ a, w, s, t, bias []float32 }

func randn(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

func newWeights(rng *rand.Rand, c phmCase) kronWeights {
	p, q := c.in/c.n, c.out/c.n
	w := kronWeights{a: randn(rng, c.n*c.n*c.n, 1), bias: randn(rng, c.out, 1)}
	if c.rank > 0 {
		w.s = randn(rng, c.n*p*c.rank, 1/float64(c.n))
		w.t = randn(rng, c.n*c.rank*q, 1)
	} else {
		w.w = randn(rng, c.n*p*q, 1/float64(c.n))
	}
	return w
}

// phmGrads are the outputs of a backward pass.
type phmGrads struct{ dx, da, dw, ds, dt, dbias []float32 }

// cpuPHM runs the layer's forward and backward on the CPU backend (the
// reference), the gradients accumulated onto copies of init.
func cpuPHM(t testing.TB, c phmCase, w kronWeights, rows int, x, dy []float32, init phmGrads) ([]float32, phmGrads) {
	t.Helper()
	g := phmGrads{dx: make([]float32, rows*c.in), da: clone(init.da), dw: clone(init.dw), ds: clone(init.ds),
		dt: clone(init.dt), dbias: clone(init.dbias)}
	y := make([]float32, rows*c.out)
	a := cpu.PHMArgs{Rows: rows, In: c.in, Out: c.out, N: c.n, Rank: c.rank, X: x, Y: y, A: w.a, W: w.w, S: w.s, T: w.t,
		Bias: w.bias, Algo: kernels.PHMMaterialize}
	if err := cpu.PHM(a); err != nil {
		t.Fatal(err)
	}
	a.Y, a.DY, a.DX, a.DA, a.DW, a.DS, a.DT, a.DBias = nil, dy, g.dx, g.da, g.dw, g.ds, g.dt, g.dbias
	if err := cpu.PHMBackward(a); err != nil {
		t.Fatal(err)
	}
	return y, g
}

func clone(x []float32) []float32 {
	if x == nil {
		return nil
	}
	return append([]float32(nil), x...)
}

// initGrads returns random initial gradients (they are accumulated into).
func initGrads(rng *rand.Rand, c phmCase) phmGrads {
	p, q := c.in/c.n, c.out/c.n
	g := phmGrads{da: randn(rng, c.n*c.n*c.n, 1), dbias: randn(rng, c.out, 1)}
	if c.rank > 0 {
		g.ds, g.dt = randn(rng, c.n*p*c.rank, 1), randn(rng, c.n*c.rank*q, 1)
	} else {
		g.dw = randn(rng, c.n*p*q, 1)
	}
	return g
}

// emulatePHM runs the fused kernels of kron.cu on the CPU with the host's
// plan (shared memory as a slice, one tile after another, the parameter
// gradients through the per-block partial array and phm_reduce), so that
// the layout and the index arithmetic are checked without a GPU.
//
// ok is false when one row of the layer does not fit in shared memory.
func emulatePHM(t testing.TB, b *Backend, c phmCase, w kronWeights, rows int, x, dy []float32, init phmGrads) (y []float32, g phmGrads, ok bool) {
	t.Helper()
	p := kernels.PHMParams{Rows: rows, In: c.in, Out: c.out, N: c.n, Rank: c.rank}
	lr := c.rank > 0
	// Non-nil placeholders say which gradients are asked for.
	one := kronSlice{}
	p.DX, p.DA, p.DBias = one, one, one
	if lr {
		p.DS, p.DT = one, one
	} else {
		p.DW = one
	}
	fwd, okF := b.planPHM(p, false)
	bwd, okB := b.planPHM(p, true)
	if !okF || !okB { // the backend materialises such a layer
		return nil, phmGrads{}, false
	}
	for _, pl := range []phmPlan{fwd, bwd} {
		if pl.shared > max(b.maxSharedOptin, phmSmemDefault) || pl.rows < 1 {
			t.Fatalf("%v: plan of %d rows, %d bytes", c, pl.rows, pl.shared)
		}
	}
	n, pp, q := c.n, c.in/c.n, c.out/c.n
	M := q
	L := w.w
	if lr {
		M, L = c.rank, w.s
	}
	J := n * M
	lget := func(pl phmPlan, sm []float32, s, j int) float32 {
		if pl.stageL {
			return sm[pl.offL+s*pl.lj+j]
		}
		i, m := j/M, j%M
		return L[(i*pp+s)*M+m]
	}
	stage := func(pl phmPlan, sm []float32) []float32 {
		as := w.a
		if pl.stageA {
			copy(sm[pl.offA:], w.a)
			as = sm[pl.offA:]
		}
		if pl.stageL {
			for e := range pp * J {
				s, j := e/J, e%J
				sm[pl.offL+s*pl.lj+j] = L[((j/M)*pp+s)*M+j%M]
			}
		}
		return as
	}
	load := func(dst []float32, g []float32, row0, nr, R, w, ws int) {
		width := n * w
		for e := range R * width {
			r, col := e/width, e%width
			a, s := col/w, col%w
			v := float32(0)
			if r < nr {
				v = g[(row0+r)*width+col]
			}
			dst[(r*n+a)*ws+s] = v
		}
	}
	computeP := func(pl phmPlan, sm []float32, R int) {
		for e := range R * n * J {
			ra, j := e/J, e%J
			var acc float32
			for s := range pp {
				acc += sm[pl.offX+ra*pl.ps+s] * lget(pl, sm, s, j)
			}
			sm[pl.offP+e] = acc
		}
	}
	computeMix := func(pl phmPlan, sm, as []float32, R int) {
		for e := range R * n * J {
			rc, j := e/J, e%J
			r, cc, i := rc/n, rc%n, j/M
			var acc float32
			for a := range n {
				acc += as[i*n*n+cc+a*n] * sm[pl.offP+r*n*J+j+a*J]
			}
			sm[pl.offQ+e] = acc
		}
	}

	// Forward.
	y = make([]float32, rows*c.out)
	sm := make([]float32, fwd.shared/4)
	as := stage(fwd, sm)
	R := fwd.rows
	for tile := 0; tile < int(fwd.tiles); tile++ {
		row0 := tile * R
		nr := min(R, rows-row0)
		load(sm[fwd.offX:], x, row0, nr, R, pp, fwd.ps)
		computeP(fwd, sm, R)
		if lr {
			computeMix(fwd, sm, as, R)
		}
		for e := range nr * c.out {
			r, o := e/c.out, e%c.out
			cc, tt := o/q, o%q
			acc := w.bias[o]
			if lr {
				for j := range J {
					acc += sm[fwd.offQ+(r*n+cc)*J+j] * w.t[j*q+tt]
				}
			} else {
				for i := range n {
					for a := range n {
						acc += as[i*n*n+cc+a*n] * sm[fwd.offP+r*n*J+i*q+tt+a*J]
					}
				}
			}
			y[(row0+r)*c.out+o] = acc
		}
	}

	// Backward, the gradients laid out as phmFusedBackward does.
	ptot, oDL, oDT, oDA, oDB := 0, 0, -1, 0, 0
	ptot += n * pp * M
	if lr {
		oDT = ptot
		ptot += J * q
	}
	oDA = ptot
	ptot += n * n * n
	oDB = ptot
	ptot += c.out
	blocks := int(min(bwd.tiles, 3)) // several blocks, each walking several tiles
	part := make([]float32, blocks*ptot)
	g = phmGrads{dx: make([]float32, rows*c.in)}
	sm = make([]float32, bwd.shared/4)
	as = stage(bwd, sm)
	R = bwd.rows
	for blk := range blocks {
		pb := part[blk*ptot:]
		for tile := blk; tile < int(bwd.tiles); tile += blocks {
			row0 := tile * R
			nr := min(R, rows-row0)
			load(sm[bwd.offX:], x, row0, nr, R, pp, bwd.ps)
			load(sm[bwd.offDY:], dy, row0, nr, R, q, bwd.qs)
			computeP(bwd, sm, R)
			if lr {
				for e := range R * n * J {
					rc, j := e/J, e%J
					var acc float32
					for tt := range q {
						acc += sm[bwd.offDY+rc*bwd.qs+tt] * w.t[j*q+tt]
					}
					sm[bwd.offDQ+e] = acc
				}
				computeMix(bwd, sm, as, R)
			}
			for e := range R * n * J {
				ra, j := e/J, e%J
				r, a, i := ra/n, ra%n, j/M
				var acc float32
				for cc := range n {
					if lr {
						acc += as[(i*n+a)*n+cc] * sm[bwd.offDQ+r*n*J+j+cc*J]
					} else {
						acc += as[(i*n+a)*n+cc] * sm[bwd.offDY+r*n*bwd.qs+(j-i*M)+cc*bwd.qs]
					}
				}
				sm[bwd.offDP+e] = acc
			}
			for e := range nr * c.in {
				r, col := e/c.in, e%c.in
				a, s := col/pp, col%pp
				var acc float32
				for j := range J {
					acc += sm[bwd.offDP+(r*n+a)*J+j] * lget(bwd, sm, s, j)
				}
				g.dx[(row0+r)*c.in+col] = acc
			}
			for e := range n * pp * M {
				i, rem := e/(pp*M), e%(pp*M)
				s, m := rem/M, rem%M
				j := i*M + m
				var acc float32
				for ra := range nr * n {
					acc += sm[bwd.offDP+ra*J+j] * sm[bwd.offX+ra*bwd.ps+s]
				}
				pb[oDL+e] += acc
			}
			if lr {
				for e := range J * q {
					j, tt := e/q, e%q
					var acc float32
					for rc := range nr * n {
						acc += sm[bwd.offQ+rc*J+j] * sm[bwd.offDY+rc*bwd.qs+tt]
					}
					pb[oDT+e] += acc
				}
			}
			for e := range n * n * n {
				i, a, cc := e/(n*n), (e/n)%n, e%n
				var acc float32
				for r := range nr {
					for m := range M {
						pv := sm[bwd.offP+(r*n+a)*J+i*M+m]
						if lr {
							acc += pv * sm[bwd.offDQ+(r*n+cc)*J+i*M+m]
						} else {
							acc += pv * sm[bwd.offDY+(r*n+cc)*bwd.qs+m]
						}
					}
				}
				pb[oDA+e] += acc
			}
			for e := range c.out {
				cc, tt := e/q, e%q
				var acc float32
				for r := range nr {
					acc += sm[bwd.offDY+(r*n+cc)*bwd.qs+tt]
				}
				pb[oDB+e] += acc
			}
		}
	}
	reduce := func(dst []float32, off int) []float32 {
		dst = clone(dst)
		for e := range dst {
			var acc float32
			for blk := range blocks {
				acc += part[blk*ptot+off+e]
			}
			dst[e] += acc
		}
		return dst
	}
	g.da, g.dbias = reduce(init.da, oDA), reduce(init.dbias, oDB)
	if lr {
		g.ds, g.dt = reduce(init.ds, oDL), reduce(init.dt, oDT)
	} else {
		g.dw = reduce(init.dw, oDL)
	}
	return y, g, true
}

// kronSlice is a stand-in buffer for the plan: only "nil or not" matters.
type kronSlice struct{}

func (kronSlice) DType() kernels.DType            { return kernels.Float32 }
func (kronSlice) Len() int                        { return 0 }
func (kronSlice) Slice(off, n int) kernels.Buffer { return kronSlice{} }

// checkGrads compares every output of a forward and backward pass.
func checkGrads(t testing.TB, what string, y, wantY []float32, g, want phmGrads, tol float64) {
	t.Helper()
	for _, o := range []struct {
		name      string
		got, want []float32
	}{{"Y", y, wantY}, {"DX", g.dx, want.dx}, {"DA", g.da, want.da}, {"DW", g.dw, want.dw}, {"DS", g.ds, want.ds},
		{"DT", g.dt, want.dt}, {"DBias", g.dbias, want.dbias}} {
		if o.want == nil && o.got == nil {
			continue
		}
		if e := relErr(o.got, o.want); e > tol {
			t.Errorf("%s %s: relative error %.3g > %g", what, o.name, e, tol)
		}
	}
}

// phmShapes are the shapes of the fused tests: tiny, odd, N = 1 and the
// adapter shapes of T5-base.
var phmShapes = []phmCase{{1, 1, 1, 0}, {2, 4, 2, 1}, {5, 7, 1, 0}, {15, 21, 3, 2}, {64, 96, 8, 3},
	{768, 24, 4, 1}, {24, 768, 4, 1}, {768, 24, 4, 0}, {24, 768, 12, 0}, {96, 768, 12, 4}}

// TestPHMEmulated holds the fused kernels' layout and index arithmetic
// (emulated on the CPU, with the plans of an H100 and of a device without
// shared-memory opt-in) to the CPU backend.
func TestPHMEmulated(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, dev := range []*Backend{{numSMs: 132, maxSharedOptin: 227 << 10}, {numSMs: 2}} {
		for _, c := range phmShapes {
			for _, rows := range []int{1, 37} {
				w := newWeights(rng, c)
				x, dy := randn(rng, rows*c.in, 1), randn(rng, rows*c.out, 1)
				init := initGrads(rng, c)
				wantY, want := cpuPHM(t, c, w, rows, x, dy, init)
				y, g, ok := emulatePHM(t, dev, c, w, rows, x, dy, init)
				if !ok {
					if dev.maxSharedOptin > 0 {
						t.Errorf("%v: no fused plan with %d bytes of shared memory", c, dev.maxSharedOptin)
					}
					continue
				}
				checkGrads(t, fmt.Sprintf("%v rows=%d smem=%d", c, rows, dev.maxSharedOptin), y, wantY, g, want, 2e-5)
			}
		}
	}
}

// TestPHMPlan checks the plans' shared memory against the limits, the
// fallback to materialising for rows that do not fit, and the staging
// decisions.
func TestPHMPlan(t *testing.T) {
	b := &Backend{numSMs: 132, maxSharedOptin: 227 << 10}
	one := kronSlice{}
	for _, c := range []phmCase{{768, 24, 4, 1}, {24, 768, 4, 0}, {3072, 768, 2, 0}, {768, 3072, 12, 1}} {
		for _, backward := range []bool{false, true} {
			p := kernels.PHMParams{Rows: 65536, In: c.in, Out: c.out, N: c.n, Rank: c.rank}
			if backward {
				p.DX, p.DA, p.DS, p.DT, p.DW, p.DBias = one, one, one, one, one, one
			}
			if c.rank > 0 {
				p.DW = nil
			} else {
				p.DS, p.DT = nil, nil
			}
			pl, ok := b.planPHM(p, backward)
			if !ok {
				t.Errorf("%v backward=%v: no plan", c, backward)
				continue
			}
			if pl.shared > b.maxSharedOptin || pl.rows < 1 || pl.rows > phmMaxTileRows {
				t.Errorf("%v backward=%v: %d rows in %d bytes", c, backward, pl.rows, pl.shared)
			}
			if pl.tiles*int64(pl.rows) < int64(p.Rows) {
				t.Errorf("%v: %d tiles of %d rows do not cover %d rows", c, pl.tiles, pl.rows, p.Rows)
			}
		}
	}
	// One row of a huge full-rank layer does not fit: materialise.
	if _, ok := b.planPHM(kernels.PHMParams{Rows: 8, In: 1 << 16, Out: 1 << 16, N: 2}, false); ok {
		t.Error("a 65536×65536 layer with N=2 got a fused plan")
	}
	// The adapter LPHM stages its weights.
	if pl, _ := b.planPHM(kernels.PHMParams{Rows: 1024, In: 768, Out: 24, N: 4, Rank: 1}, false); !pl.stageA || !pl.stageL {
		t.Errorf("768→24 LPHM: stageA=%v stageL=%v, want both", pl.stageA, pl.stageL)
	}
}

// TestChoosePHM checks the cost model's choices at clear-cut shapes.
func TestChoosePHM(t *testing.T) {
	for _, c := range []struct {
		rows, in, out, n, rank int
		want                   kernels.PHMAlgo
	}{
		{65536, 768, 24, 4, 1, kernels.PHMFused},         // Compacter adapter: a fraction of the dense FLOPs
		{65536, 24, 768, 4, 1, kernels.PHMFused},         // and its up-projection
		{65536, 3072, 768, 2, 0, kernels.PHMMaterialize}, // full PHM, large: cuBLAS
		{64, 768, 768, 4, 1, kernels.PHMFused},           // few rows: building H dominates
	} {
		if got := choosePHM(c.rows, c.in, c.out, c.n, c.rank); got != c.want {
			t.Errorf("choosePHM(%d rows, %d→%d, n=%d, rank=%d) = %v, want %v", c.rows, c.in, c.out, c.n, c.rank, got, c.want)
		}
	}
}

// TestPHMFusedVsMaterialize runs both algorithms on the GPU at adapter
// shapes and many rows (beyond the conformance suite's 128) against the
// CPU backend.
func TestPHMFusedVsMaterialize(t *testing.T) {
	b := gpuBackend(t)
	rng := rand.New(rand.NewPCG(9, 10))
	rowsList := []int{1, 1000, 4097}
	if testing.Short() {
		rowsList = []int{1, 1000}
	}
	shapes := append(phmShapes, phmCase{768, 24, 8, 1}, phmCase{24, 768, 12, 1}, phmCase{768, 96, 2, 0})
	for _, c := range shapes {
		for _, rows := range rowsList {
			w := newWeights(rng, c)
			x, dy := randn(rng, rows*c.in, 1), randn(rng, rows*c.out, 1)
			init := initGrads(rng, c)
			wantY, want := cpuPHM(t, c, w, rows, x, dy, init)
			for _, algo := range []kernels.PHMAlgo{kernels.PHMFused, kernels.PHMMaterialize, kernels.PHMAuto} {
				y, g := gpuPHM(t, b, c, w, rows, x, dy, init, algo)
				checkGrads(t, fmt.Sprintf("%v rows=%d %v", c, rows, algo), y, wantY, g, want, 1e-4)
			}
		}
	}
}

// gpuPHM runs the layer's forward and backward on the GPU.
func gpuPHM(t testing.TB, b *Backend, c phmCase, w kronWeights, rows int, x, dy []float32, init phmGrads, algo kernels.PHMAlgo) ([]float32, phmGrads) {
	t.Helper()
	up := func(v []float32) kernels.Buffer {
		if v == nil {
			return nil
		}
		return upload(t, b, v)
	}
	p := kernels.PHMParams{Rows: rows, In: c.in, Out: c.out, N: c.n, Rank: c.rank, X: up(x), Y: up(make([]float32, rows*c.out)),
		A: up(w.a), W: up(w.w), S: up(w.s), T: up(w.t), Bias: up(w.bias), Algo: algo}
	if err := b.PHM(p); err != nil {
		t.Fatal(err)
	}
	p.DY, p.DX = up(dy), up(make([]float32, rows*c.in))
	p.DA, p.DW, p.DS, p.DT, p.DBias = up(init.da), up(init.dw), up(init.ds), up(init.dt), up(init.dbias)
	if err := b.PHMBackward(p); err != nil {
		t.Fatal(err)
	}
	get := func(d kernels.Buffer) []float32 {
		if d == nil {
			return nil
		}
		return download(t, b, d)
	}
	return get(p.Y), phmGrads{dx: get(p.DX), da: get(p.DA), dw: get(p.DW), ds: get(p.DS), dt: get(p.DT), dbias: get(p.DBias)}
}
