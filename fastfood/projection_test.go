package fastfood

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// projShapes are (d, D) pairs: D a power of two or not, d below, equal to
// and above L (truncation), tiny and multi-chunk sizes.
var projShapes = [][2]int{{1, 1}, {1, 2}, {3, 3}, {5, 7}, {152, 32}, {152, 1024}, {152, 3072}, {20, 1000},
	{200, 4097}, {3000, 700}, {64, 1 << 16}, {1000, 1<<17 + 5}}

// TestPermutation checks the seeded Π is a permutation of [0, 2^bits).
func TestPermutation(t *testing.T) {
	for bits := 0; bits <= 14; bits++ {
		for _, seed := range []uint64{0, 1, 0xdeadbeef} {
			p := newIdxParams(newKeys(seed), bits, 0)
			n := 1 << bits
			seen := make([]bool, n)
			for i := range n {
				j := p.perm(uint32(i))
				if j >= uint32(n) || seen[j] {
					t.Fatalf("bits=%d seed=%x: Π(%d) = %d repeats or leaves [0, %d)", bits, seed, i, j, n)
				}
				seen[j] = true
			}
		}
	}
}

// TestIndexSimdMatchesGeneric holds the AVX2 gather and scatter kernels
// bit-identical to their pure-Go twins on awkward lengths, offsets near
// 2^30 and every width of Π.
func TestIndexSimdMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for bits := 0; bits <= 30; bits++ {
		for _, n := range []int{1, 7, 8, 9, 64, 1000, 4099} {
			p := newIdxParams(newKeys(rng.Uint64()), bits, rng.IntN(min(bits, 16)+1))
			checkIndex(t, &p, n, uint32(rng.Int64N(1<<30)))
		}
	}
}

func checkIndex(t *testing.T, p *idxParams, n int, i0 uint32) {
	t.Helper()
	m := int(p.mm) + 1
	u := make([]float32, m)
	for j := range u {
		u[j] = float32(j) - 0.5
	}
	buf := make([]float32, n)
	for j := range buf {
		buf[j] = float32(j%13) - 6.25
	}
	d1, d2 := make([]float32, n), make([]float32, n)
	gatherBlock(simd, d1, u, p, i0)
	ffGatherGeneric(d2, u, gaussTable(), p, i0)
	tab := gaussTable()
	for j := range n {
		i := i0 + uint32(j)
		want := u[p.perm(i)&p.mm] * tab[p.gaussIndex(i)]
		if math.Float32bits(d1[j]) != math.Float32bits(want) || math.Float32bits(d2[j]) != math.Float32bits(want) {
			t.Fatalf("%+v n=%d i0=%d [%d]: gather simd %v, generic %v, want %v", *p, n, i0, j, d1[j], d2[j], want)
		}
	}
	a1, a2 := make([]float32, m), make([]float32, m)
	scatterBlock(simd, a1, buf, p, i0)
	ffScatterGeneric(a2, buf, gaussTable(), p, i0)
	for j := range m {
		if math.Float32bits(a1[j]) != math.Float32bits(a2[j]) {
			t.Fatalf("%+v n=%d i0=%d: acc[%d] simd %v, generic %v", *p, n, i0, j, a1[j], a2[j])
		}
	}
}

// FuzzIndex holds the AVX2 gather and scatter equal to the pure-Go twins.
func FuzzIndex(f *testing.F) {
	f.Add(uint64(1), uint8(20), uint8(15), uint32(12345), uint16(100))
	f.Fuzz(func(t *testing.T, seed uint64, bits, logM uint8, i0 uint32, n uint16) {
		b := int(bits % 31)
		p := newIdxParams(newKeys(seed), b, int(logM)%(min(b, 16)+1))
		checkIndex(t, &p, int(n%2048)+1, i0%(1<<30))
	})
}

// TestGaussTable checks the quantile table is symmetric with mean 0,
// variance 1 to within the discretisation, and monotone.
func TestGaussTable(t *testing.T) {
	tab := gaussTable()
	var s, s2 float64
	for j, v := range tab {
		if j > 0 && !(v > tab[j-1]) {
			t.Fatalf("table not increasing at %d: %v after %v", j, v, tab[j-1])
		}
		if v != -tab[len(tab)-1-j] {
			t.Fatalf("table not symmetric at %d", j)
		}
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	n := float64(len(tab))
	if m, v := s/n, s2/n; math.Abs(m) > 1e-9 || math.Abs(v-1) > 1e-3 {
		t.Fatalf("mean %g variance %g, want 0 and 1", m, v)
	}
}

// versionShapes pairs every state version with every shape of projShapes.
func versionShapes() (cs []struct {
	v      StateVersion
	d, dim int
}) {
	for _, v := range []StateVersion{StateV1, StateV2} {
		for _, sh := range projShapes {
			cs = append(cs, struct {
				v      StateVersion
				d, dim int
			}{v, sh[0], sh[1]})
		}
	}
	return cs
}

// TestForwardAdjointReference compares Forward and Adjoint of seeded
// projections of both state versions with the float64 formula on their
// materialised state, and checks the adjoint identity ⟨Px, y⟩ = ⟨x, Pᵀy⟩.
func TestForwardAdjointReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range versionShapes() {
		d, dim := c.d, c.dim
		p, err := NewVersion(d, dim, uint64(d*7919+dim), c.v)
		if err != nil {
			t.Fatal(err)
		}
		st := stateOf(p)
		var g2 float64
		for _, g := range st.g {
			g2 += g * g
		}
		if want := math.Sqrt(float64(p.L()) * g2); math.Abs(p.Divisor()-want) > 1e-12*want {
			t.Errorf("%v d=%d D=%d: divisor %v, √(L·ΣG²) = %v", c.v, d, dim, p.Divisor(), want)
		}
		checkProjection(t, rng, p)
	}
}

func checkProjection(t *testing.T, rng *rand.Rand, p *Projection) {
	t.Helper()
	d, dim := p.InDim(), p.OutDim()
	st := stateOf(p)
	x, y := randVec(rng, d), randVec(rng, dim)
	px, pty := make([]float32, dim), make([]float32, d)
	for _, threads := range []int{1, 3} {
		p.Threads = threads
		if err := p.Forward(px, x, nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Adjoint(pty, y, nil); err != nil {
			t.Fatal(err)
		}
		// float32 rounding: about one unit per transform level, and the
		// adjoint sums L/m products into each of its m accumulators.
		tol := 2e-7 * (float64(p.logL+p.logM+2) + math.Sqrt(float64(p.L()>>p.logM)))
		fref := refForward(st, to64(x))
		if e := relErr(px, fref); e > tol {
			t.Errorf("d=%d D=%d: forward relative error %g > %g", d, dim, e, tol)
		}
		// A short adjoint output (d = 1) can be a sum that cancels: measure
		// its error against the typical size ‖y‖·√(min(d,L)/D) too.
		aref := refAdjoint(st, to64(y))
		floor := math.Sqrt(dot64(y, to64(y)) * float64(min(d, p.L())) / float64(dim))
		if e := relErr(pty, aref) * norm(aref) / math.Max(norm(aref), floor); e > tol {
			t.Errorf("d=%d D=%d: adjoint relative error %g > %g", d, dim, e, tol)
		}
		// ⟨Px, y⟩ = ⟨x, Pᵀy⟩, on the float32 outputs.
		a, b := dot64(px, to64(y)), dot64(pty, to64(x))
		nx, ny := math.Sqrt(dot64(x, to64(x))), math.Sqrt(dot64(y, to64(y)))
		scale := nx * ny * math.Sqrt(math.Max(1, float64(d)/float64(p.L())))
		if math.Abs(a-b) > 1e-5*scale {
			t.Errorf("d=%d D=%d: ⟨Px,y⟩ = %g, ⟨x,Pᵀy⟩ = %g", d, dim, a, b)
		}
	}
}

// TestSeededNorm checks the normalisation: for the first D entries to have
// the expected squared norm ‖x‖²·(something of order 1), the divisor must be
// √(L·ΣG²); E‖Px‖² = ‖pad(x)‖² exactly when D = L.
func TestSeededNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randVec(rng, 500)
	var ratio float64
	const trials = 20
	for s := range trials {
		p, err := NewVersion(len(x), 1<<14, uint64(s), StateVersion(1+s%2))
		if err != nil {
			t.Fatal(err)
		}
		if g2 := p.Divisor() * p.Divisor() / float64(p.L()); math.Abs(g2/float64(p.L())-1) > 0.05 {
			t.Fatalf("ΣG²/L = %g, want ≈ 1", g2/float64(p.L()))
		}
		y := make([]float32, p.OutDim())
		if err := p.Forward(y, x, nil); err != nil {
			t.Fatal(err)
		}
		ratio += dot64(y, to64(y)) / dot64(x, to64(x)) / trials
	}
	if math.Abs(ratio-1) > 0.1 {
		t.Fatalf("E‖Px‖²/‖x‖² ≈ %g, want 1", ratio)
	}
}

func TestProjectionErrors(t *testing.T) {
	for _, sh := range [][2]int{{0, 4}, {4, 0}, {-1, 3}, {3, 1<<30 + 1}} {
		if _, err := New(sh[0], sh[1], 1); !errors.Is(err, kernels.ErrShape) {
			t.Errorf("New(%d, %d): %v, want ErrShape", sh[0], sh[1], err)
		}
	}
	p, err := New(10, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Forward(make([]float32, 20), make([]float32, 9), nil); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("Forward with short x: %v", err)
	}
	if err := p.Adjoint(make([]float32, 10), make([]float32, 21), nil); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("Adjoint with long y: %v", err)
	}
	b, pi, g := []int64{1, -1, 1, 1}, []int64{0, 1, 2, 3}, []float32{1, 2, 3, 4}
	if _, err := FromState(3, 4, b, pi, g, 1); err != nil {
		t.Fatalf("FromState: %v", err)
	}
	if _, err := FromState(3, 4, []int64{1, 0, 1, 1}, pi, g, 1); err == nil {
		t.Error("FromState accepted B = 0")
	}
	if _, err := FromState(3, 4, b, []int64{0, 1, 1, 3}, g, 1); err == nil {
		t.Error("FromState accepted a repeated Pi entry")
	}
	if _, err := FromState(3, 4, b, pi, g[:3], 1); !errors.Is(err, kernels.ErrShape) {
		t.Errorf("FromState with short G: %v", err)
	}
	if _, err := FromState(3, 4, b, pi, g, 0); err == nil {
		t.Error("FromState accepted divisor 0")
	}
}

// TestImportedAdjoint runs the forward, adjoint and identity checks on
// explicit random state.
func TestImportedAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sh := range projShapes[:10] {
		d, dim := sh[0], sh[1]
		l := 1
		for l < dim {
			l <<= 1
		}
		b, pi, g := make([]int64, l), make([]int64, l), make([]float32, l)
		for i, j := range rng.Perm(l) {
			b[i] = int64(1 - 2*rng.IntN(2))
			pi[i] = int64(j)
			g[i] = float32(rng.NormFloat64())
		}
		p, err := FromState(d, dim, b, pi, g, float32(math.Sqrt(float64(l)*float64(l))))
		if err != nil {
			t.Fatal(err)
		}
		if p.StateBytes() != 8*((l+63)/64)+8*l {
			t.Errorf("StateBytes %d", p.StateBytes())
		}
		checkProjection(t, rng, p)
	}
}

// FuzzProjection holds Forward and Adjoint to the float64 formula and the
// adjoint identity for arbitrary (d, D, seed).
func FuzzProjection(f *testing.F) {
	f.Add(uint16(152), uint16(1024), uint64(1))
	f.Add(uint16(3000), uint16(33), uint64(7))
	f.Add(uint16(1), uint16(1), uint64(0))
	f.Fuzz(func(t *testing.T, d, dim uint16, seed uint64) {
		dd, dm := int(d%4096)+1, int(dim%9000)+1
		p, err := NewVersion(dd, dm, seed, StateVersion(1+seed%2))
		if err != nil {
			t.Fatal(err)
		}
		checkProjection(t, rand.New(rand.NewPCG(seed, 1)), p)
	})
}

// TestStreamedPipeline holds the forward, whose gather and add are
// streamed through the transform, bit-identical to the separate passes it
// replaced (forwardAddUnfused) and to itself on any thread count, and the
// adjoint, whose scatter now sums in the transform's block order, equal to
// the separate passes up to rounding and bit-identical across thread
// counts.
func TestStreamedPipeline(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for ci, c := range [][2]int{{5, 3000}, {300, 5000}, {1000, 70000}, {3000, 300000}, {1000, 70000}, {3000, 300000}} {
		d, dim := c[0], c[1]
		p, err := NewVersion(d, dim, uint64(d), StateVersion(2-ci/4)) // the last two with StateV1
		if err != nil {
			t.Fatal(err)
		}
		x, y := randVec(rng, d), randVec(rng, dim)
		s := make([]float32, p.ScratchLen())
		ref := make([]float32, dim)
		p.forwardAddUnfused(ref, 1, x, s)
		aref := make([]float32, d)
		p.adjointUnfused(aref, y, s)
		var a1 []float32
		for _, threads := range []int{1, 2, 3} {
			p.Threads = threads
			got := make([]float32, dim)
			if err := p.ForwardAdd(got, 1, x, nil); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("d=%d D=%d threads=%d: forward [%d] = %v, separate passes %v", d, dim, threads, i, got[i], ref[i])
				}
			}
			a := make([]float32, d)
			if err := p.Adjoint(a, y, nil); err != nil {
				t.Fatal(err)
			}
			if e := relErr(a, to64(aref)); e > 1e-5 {
				t.Errorf("d=%d D=%d threads=%d: adjoint relative error %g against separate passes", d, dim, threads, e)
			}
			if a1 == nil {
				a1 = a
			} else {
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(a1[i]) {
						t.Fatalf("d=%d D=%d threads=%d: adjoint [%d] = %v, one thread %v", d, dim, threads, i, a[i], a1[i])
					}
				}
			}
		}
	}
}

// TestScaleKernels holds the AVX2 scale and scaled-add kernels
// bit-identical to their pure-Go twins and to the plain expressions, tails
// included.
func TestScaleKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 100, 1027} {
		y, d0 := randVec(rng, n), randVec(rng, n)
		c, alpha := float32(0.37), float32(-1.9)
		s1, s2 := make([]float32, n), make([]float32, n)
		setScaled(s1, c, y)
		ffScaleGeneric(s2, y, c)
		a1, a2 := append([]float32(nil), d0...), append([]float32(nil), d0...)
		addScaled(a1, alpha, c, y)
		ffAddScaledGeneric(a2, y, alpha, c)
		for i := range n {
			ws := c * y[i]
			p := c * y[i]
			q := alpha * p
			wa := d0[i] + q
			if math.Float32bits(s1[i]) != math.Float32bits(ws) || math.Float32bits(s2[i]) != math.Float32bits(ws) {
				t.Fatalf("n=%d: scale [%d] simd %v generic %v, want %v", n, i, s1[i], s2[i], ws)
			}
			if math.Float32bits(a1[i]) != math.Float32bits(wa) || math.Float32bits(a2[i]) != math.Float32bits(wa) {
				t.Fatalf("n=%d: add [%d] simd %v generic %v, want %v", n, i, a1[i], a2[i], wa)
			}
		}
	}
}
