package fastfood

import (
	"fmt"
	"math"
	"math/bits"
	"sync"

	"github.com/compacter-go/compacter/cpu"
	"github.com/compacter-go/compacter/kernels"
)

// Projection is one Fastfood map P: R^d → R^D (see the package comment).
// Its methods may run concurrently when each call has its own scratch.
type Projection struct {
	// Threads is the number of goroutines the transforms and per-element
	// passes use; 0 means GOMAXPROCS. The results do not depend on it.
	Threads int

	d, dim     int
	logL, logM int
	divisor    float64

	// Seeded state, evaluated where it is used: ix for StateV1, blk for
	// StateV2.
	ver  StateVersion
	keys stateKeys
	ix   idxParams
	blk  blockState

	// Imported state (nil for a seeded projection): B as bits (set: −1),
	// Π and G.
	sign []uint64
	pi   []int32
	g    []float32
}

// maxLog is log2 of the longest padded length a projection may have.
const maxLog = 30

// shape checks d and D and returns log2 of L and of the span m of the
// non-zero input entries.
func shape(d, dim int) (logL, logM int, err error) {
	if d < 1 || dim < 1 || dim > 1<<maxLog {
		return 0, 0, fmt.Errorf("fastfood: input dimension %d, output dimension %d (each in [1, 2^%d]): %w", d, dim, maxLog, kernels.ErrShape)
	}
	logL = bits.Len(uint(dim - 1))
	logM = bits.Len(uint(min(d, 1<<logL) - 1))
	return logL, logM, nil
}

// New returns the projection from R^d to R^D whose B, Π and G are drawn
// from seed with the LatestState version. It stores no per-element state;
// it spends one pass over the L = 2^⌈log₂D⌉ draws of G to compute the
// divisor √(L·ΣG²).
func New(d, dim int, seed uint64) (*Projection, error) {
	return NewVersion(d, dim, seed, LatestState)
}

// NewVersion is New with the random state of version v (0 means
// LatestState): a θ_d trained with a version reproduces its weights only
// with that version.
func NewVersion(d, dim int, seed uint64, v StateVersion) (*Projection, error) {
	v, err := v.resolve()
	if err != nil {
		return nil, err
	}
	logL, logM, err := shape(d, dim)
	if err != nil {
		return nil, err
	}
	if v == StateV2 {
		logM = v2LogM(logL, logM)
	}
	p := &Projection{d: d, dim: dim, logL: logL, logM: logM, ver: v, keys: newKeys(seed)}
	p.ix = newIdxParams(p.keys, logL, logM)
	if v == StateV2 {
		p.blk = newBlockState(p.keys, logL, logM)
	}
	p.divisor = math.Sqrt(float64(p.L()) * p.sumG2())
	return p, nil
}

// Version returns the version of a seeded projection's random state, and
// 0 for imported state (FromState).
func (p *Projection) Version() StateVersion {
	if p.pi != nil {
		return 0
	}
	return p.ver
}

// FromState returns the projection from R^d to R^D with the explicit state
// of the reference (fastfood/<param>/B, Pi, G and divisor of its
// peft.safetensors): b holds ±1, pi a permutation of [0, L) and g the
// Gaussian draws, each of length L = 2^⌈log₂D⌉. The state is kept as bits,
// int32 and float32.
func FromState(d, dim int, b, pi []int64, g []float32, divisor float32) (*Projection, error) {
	logL, logM, err := shape(d, dim)
	if err != nil {
		return nil, err
	}
	l := 1 << logL
	if len(b) != l || len(pi) != l || len(g) != l {
		return nil, fmt.Errorf("fastfood: state of lengths B %d, Pi %d, G %d, want L = %d: %w", len(b), len(pi), len(g), l, kernels.ErrShape)
	}
	if !(divisor > 0) || math.IsInf(float64(divisor), 0) {
		return nil, fmt.Errorf("fastfood: divisor %v is not a positive number", divisor)
	}
	p := &Projection{d: d, dim: dim, logL: logL, logM: logM, divisor: float64(divisor),
		sign: make([]uint64, (l+63)/64), pi: make([]int32, l), g: append([]float32(nil), g...)}
	seen := make([]bool, l)
	for i, v := range b {
		switch v {
		case 1:
		case -1:
			p.sign[i>>6] |= 1 << (i & 63)
		default:
			return nil, fmt.Errorf("fastfood: B[%d] = %d, want ±1", i, v)
		}
		j := pi[i]
		if j < 0 || j >= int64(l) || seen[j] {
			return nil, fmt.Errorf("fastfood: Pi is not a permutation of [0, %d) (Pi[%d] = %d)", l, i, j)
		}
		seen[j] = true
		p.pi[i] = int32(j)
	}
	return p, nil
}

// InDim returns d.
func (p *Projection) InDim() int { return p.d }

// OutDim returns D.
func (p *Projection) OutDim() int { return p.dim }

// L returns the padded length 2^⌈log₂D⌉.
func (p *Projection) L() int { return 1 << p.logL }

// Divisor returns √(L·ΣG²).
func (p *Projection) Divisor() float64 { return p.divisor }

// Scale returns the factor 1/(divisor·√(D/L)) applied to the first D
// entries of the transformed vector.
func (p *Projection) Scale() float64 {
	return 1 / (p.divisor * math.Sqrt(float64(p.dim)/float64(p.L())))
}

// StateBytes returns the bytes of per-element random state the projection
// keeps: 0 for a seeded one, L/8 + 8L for imported state.
func (p *Projection) StateBytes() int {
	return 8*len(p.sign) + 4*len(p.pi) + 4*len(p.g)
}

// ScratchLen returns the length of the scratch slice Forward, ForwardAdd
// and Adjoint use: L + m floats.
func (p *Projection) ScratchLen() int { return 1<<p.logL + 1<<p.logM }

// sumG2 returns ΣG² over [0, L) in float64, summed per chunk in a fixed
// order.
func (p *Projection) sumG2() float64 {
	if p.ver == StateV2 {
		return p.blk.sumG2(p.L())
	}
	l := p.L()
	nc := (l + 1<<chunkLog - 1) >> chunkLog
	part := make([]float64, nc)
	// G through the gather kernel with m = 1 and u = [1].
	ix, one := p.ix, []float32{1}
	ix.mm = 0
	forChunks(p.Threads, nc, func(c int) {
		lo, hi := c<<chunkLog, min(l, (c+1)<<chunkLog)
		var g [4096]float32
		var s float64
		for i := lo; i < hi; i += len(g) {
			b := g[:min(len(g), hi-i)]
			gatherBlock(simd, b, one, &ix, uint32(i))
			for _, v := range b {
				s += float64(v) * float64(v)
			}
		}
		part[c] = s
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

// gatherSeeded sets b[j] = u[Π(off+j) mod m]·G(off+j) for a seeded
// projection (len(u) = m).
func (p *Projection) gatherSeeded(b, u []float32, off int) {
	if p.ver == StateV2 {
		p.blk.gather(simd, b, u, p.ix.mm, uint32(off))
		return
	}
	gatherBlock(simd, b, u, &p.ix, uint32(off))
}

// scatterSeeded adds v[j]·G(off+j) to acc[Π(off+j) mod m] for a seeded
// projection (len(acc) = m), in order of j.
func (p *Projection) scatterSeeded(acc, v []float32, off int) {
	if p.ver == StateV2 {
		p.blk.scatter(simd, acc, v, p.ix.mm, uint32(off))
		return
	}
	scatterBlock(simd, acc, v, &p.ix, uint32(off))
}

// scratch returns s when it is long enough, else a new slice.
func (p *Projection) scratch(s []float32) []float32 {
	if n := p.ScratchLen(); len(s) < n {
		return make([]float32, n)
	}
	return s
}

func (p *Projection) checkLens(op string, in, out []float32, din, dout int) error {
	if len(in) != din || len(out) != dout {
		return fmt.Errorf("fastfood: %s: input of %d, output of %d, want %d and %d: %w", op, len(in), len(out), din, dout, kernels.ErrShape)
	}
	return nil
}

// Forward sets dst = P x (len(x) = d, len(dst) = D). scratch may be nil or
// at least ScratchLen long.
func (p *Projection) Forward(dst, x, scratch []float32) error {
	if err := p.checkLens("forward", x, dst, p.d, p.dim); err != nil {
		return err
	}
	c := float32(p.Scale())
	p.lift(x, p.scratch(scratch), func(h []float32, off int) {
		setScaled(dst[off:off+len(h)], c, h)
	})
	return nil
}

// ForwardAdd sets dst += alpha·P x, each element as dst + alpha·(s·h) with
// s = Scale() rounded to float32: SAID's θ0 + λ·P(θ_d).
func (p *Projection) ForwardAdd(dst []float32, alpha float32, x, scratch []float32) error {
	if err := p.checkLens("forward", x, dst, p.d, p.dim); err != nil {
		return err
	}
	c := float32(p.Scale())
	p.lift(x, p.scratch(scratch), func(h []float32, off int) {
		addScaled(dst[off:off+len(h)], alpha, c, h)
	})
	return nil
}

// addScaled sets dst[i] += alpha·(c·h[i]) for i < len(dst), each product
// rounded.
func addScaled(dst []float32, alpha, c float32, h []float32) {
	k := 0
	if simd {
		k = len(dst) &^ 7
		ffAddScaledAVX2(dst[:k], h, alpha, c)
	}
	ffAddScaledGeneric(dst[k:], h[k:], alpha, c)
}

// lift computes h = H G Π H B pad(x), unscaled, and passes it to emit in
// blocks h[off:off+len(v)] = v of its first D entries (concurrently for
// different blocks), using s (at least L + m floats) as working space.
// The gather G Π (H B pad(x)) fills each L1 block of the transform as it
// starts, and the blocks go to emit from the last pass of the transform:
// h itself never passes through memory.
func (p *Projection) lift(x, s []float32, emit func(v []float32, off int)) {
	l, m := p.L(), 1<<p.logM
	buf, u := s[:l], s[l:l+m]
	k := min(p.d, l)
	p.applySigns(u[:k], x[:k])
	clear(u[k:])
	_ = cpu.FWHTFloat32(u, p.logM, 1, 1, false)
	mm := uint64(m - 1)
	load := func(b []float32, off int) {
		if p.pi != nil {
			g, pi := p.g[off:off+len(b)], p.pi[off:off+len(b)]
			for i := range b {
				b[i] = u[uint64(pi[i])&mm] * g[i]
			}
			return
		}
		p.gatherSeeded(b, u, off)
	}
	_ = cpu.FWHTFused(buf, p.logL, p.Threads, load, 8, func(_ int, v []float32, off int) {
		if n := min(len(v), p.dim-off); n > 0 {
			emit(v[:n], off)
		}
	})
}

// accPool keeps the adjoint's accumulators (up to 8·m floats) between
// calls.
var accPool = sync.Pool{New: func() any { return new([]float32) }}

// accGroups is the number of partial accumulators of the adjoint's
// scatter for L elements: fixed by L, so the sum does not depend on the
// thread count.
func accGroups(l int) int { return min(8, max(1, l>>chunkLog)) }

// Adjoint sets dst = Pᵀ y (len(y) = D, len(dst) = d): the exact adjoint of
// Forward (entries of x beyond L, which the forward truncates, get 0).
// scratch may be nil or at least ScratchLen long.
func (p *Projection) Adjoint(dst, y, scratch []float32) error {
	if err := p.checkLens("adjoint", y, dst, p.dim, p.d); err != nil {
		return err
	}
	c := float32(p.Scale())
	p.lower(dst, p.scratch(scratch), func(b []float32, off int) {
		n := max(0, min(len(b), len(y)-off))
		if n > 0 {
			setScaled(b[:n], c, y[off:off+n])
		}
		clear(b[n:])
	})
	return nil
}

// setScaled sets b[i] = c·y[i] for i < len(b).
func setScaled(b []float32, c float32, y []float32) {
	k := 0
	if simd {
		k = len(b) &^ 7
		ffScaleAVX2(b[:k], y, c)
	}
	ffScaleGeneric(b[k:], y[k:], c)
}

// lower sets dst = pad(·)ᵀ B H Πᵀ G H z, where load(b, off) fills each
// block b = z[off:off+len(b)] of the already scaled and zero-padded input
// z of length L (concurrently for different blocks), using s (at least
// L + m floats) as working space. The blocks of H z go from the last pass
// of the transform straight to the scatter G Πᵀ, in accGroups(L) groups
// with one m-point accumulator each, summed in group order.
func (p *Projection) lower(dst, s []float32, load func(b []float32, off int)) {
	l, m := p.L(), 1<<p.logM
	buf, u := s[:l], s[l:l+m]

	// acc[j] = Σ_{i: Π(i) mod m = j} G[i]·(H z)[i], by groups of blocks.
	ng := accGroups(l)
	ap := accPool.Get().(*[]float32)
	defer accPool.Put(ap)
	if cap(*ap) < ng*m {
		*ap = make([]float32, ng*m)
	}
	acc := (*ap)[:ng*m]
	mm := uint64(m - 1)
	// Each group's accumulator is cleared by the goroutine that fills it,
	// at its first block.
	var started [8]bool
	_ = cpu.FWHTFused(buf, p.logL, p.Threads, load, ng, func(gi int, v []float32, off int) {
		a := acc[gi*m : (gi+1)*m]
		if !started[gi] {
			clear(a)
			started[gi] = true
		}
		if p.pi != nil {
			g, pi := p.g[off:off+len(v)], p.pi[off:off+len(v)]
			for i, h := range v {
				a[uint64(pi[i])&mm] += float32(h * g[i])
			}
			return
		}
		p.scatterSeeded(a, v, off)
	})
	for gi := range ng {
		if !started[gi] { // a group without blocks (none at the sizes that have groups)
			clear(acc[gi*m : (gi+1)*m])
		}
	}
	// u[j] = acc_0[j] + acc_1[j] + … in group order, by ranges of j in
	// parallel.
	const span = 1 << 12
	forChunks(p.Threads, (m+span-1)/span, func(c int) {
		lo, hi := c*span, min(m, (c+1)*span)
		uc := u[lo:hi]
		copy(uc, acc[lo:hi])
		for gi := 1; gi < ng; gi++ {
			for j, v := range acc[gi*m+lo : gi*m+hi] {
				uc[j] += v
			}
		}
	})
	_ = cpu.FWHTFloat32(u, p.logM, 1, 1, false)
	k := min(p.d, l)
	p.applySigns(dst[:k], u[:k])
	clear(dst[k:])
}

// applySigns sets dst[i] = B[i]·x[i] for i < len(dst) (len(x) ≥
// len(dst)), one sign word per 64 elements.
func (p *Projection) applySigns(dst, x []float32) {
	for w := 0; w < len(dst); w += 64 {
		var bits uint64
		if p.sign != nil {
			bits = p.sign[w>>6]
		} else {
			bits = p.keys.signWord(w >> 6)
		}
		for i, v := range x[w:min(w+64, len(dst))] {
			dst[w+i] = math.Float32frombits(math.Float32bits(v) ^ uint32(bits>>i&1)<<31)
		}
	}
}
