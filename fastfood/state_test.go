package fastfood

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPermutationV2 checks StateV2's Π is a permutation of [0, L) for
// every L up to 2^15 and every span m ≤ L.
func TestPermutationV2(t *testing.T) {
	for logL := 0; logL <= 15; logL++ {
		for logM := 0; logM <= logL; logM += 1 + logL/6 {
			for _, seed := range []uint64{0, 0xdeadbeef} {
				p, err := NewVersion(1<<logM, 1<<logL, seed, StateV2)
				if err != nil {
					t.Fatal(err)
				}
				n := p.L()
				seen := make([]bool, n)
				for i := range n {
					j := p.permAt(uint32(i))
					if j >= uint32(n) || seen[j] {
						t.Fatalf("L=2^%d m=2^%d seed=%x: Π(%d) = %d repeats or leaves [0, %d)", logL, logM, seed, i, j, n)
					}
					seen[j] = true
				}
			}
		}
	}
}

// TestGaussTable2 checks StateV2's table holds each of the 4096
// quantiles once, one of every octile per group of eight, with mean 0 and
// variance 1 to within the discretisation.
func TestGaussTable2(t *testing.T) {
	tab := gaussTable2()
	q := make([]float32, len(tab))
	quantiles(q)
	sorted := slices.Clone(tab[:])
	slices.Sort(sorted)
	if !slices.Equal(sorted, q) {
		t.Fatal("table is not a permutation of the quantiles")
	}
	var s, s2 float64
	for j, v := range tab {
		if oct := slices.Index(q, v) / 512; oct != j%8 {
			t.Fatalf("entry %d is in octile %d, want %d", j, oct, j%8)
		}
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	n := float64(len(tab))
	if m, v := s/n, s2/n; math.Abs(m) > 1e-9 || math.Abs(v-1) > 2e-3 {
		t.Fatalf("mean %g variance %g, want 0 and 1", m, v)
	}
	pats := lanePerms()
	for p := range 64 {
		seen := 0
		for r, v := range pats[p] {
			seen |= 1 << v
			if pats[64+p][v] != int32(r) {
				t.Fatalf("row %d is not the inverse of row %d", 64+p, p)
			}
		}
		if seen != 0xff {
			t.Fatalf("row %d is not a permutation of eight lanes: %v", p, pats[p])
		}
	}
}

// TestGroupsSimdMatchesGeneric holds the AVX2 group gather and scatter
// bit-identical to their pure-Go twins for every block size, at the first
// and last groups of a block, with random keys.
func TestGroupsSimdMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for c := 3; c <= blockLogMax; c++ {
		for range 4 {
			checkGroups(t, rng, c, rng.Uint32())
		}
	}
}

func checkGroups(t *testing.T, rng *rand.Rand, c int, seed uint32) {
	t.Helper()
	s := newBlockState(newKeys(uint64(seed)), c+rng.IntN(4), c)
	groups := 1 << (c - 3)
	n := 8 * max(8, groups) &^ 63 // what the AVX2 kernels take
	n = min(n, 8*groups)
	if n < 64 {
		return
	}
	g0 := uint32(rng.IntN(groups-n/8+1) &^ 7)
	key, kg := rng.Uint32(), rng.Uint32()
	u := randVec(rng, 1<<c)
	tab, pats := gaussTable2(), lanePerms()
	d1, d2 := make([]float32, n), make([]float32, n)
	ffGatherGroupsAVX2(d1, u, tab, pats, &s.q, g0, key, kg)
	ffGatherGroupsGeneric(d2, u, tab, pats, &s.q, g0, key, kg)
	if !slices.Equal(bitsOf(d1), bitsOf(d2)) {
		t.Fatalf("c=%d g0=%d: gather simd and generic differ", c, g0)
	}
	buf := randVec(rng, n)
	a1, a2 := randVec(rng, 1<<c), make([]float32, 1<<c)
	copy(a2, a1)
	ffScatterGroupsAVX2(buf, a1, tab, pats, &s.q, g0, key, kg)
	ffScatterGroupsGeneric(buf, a2, tab, pats, &s.q, g0, key, kg)
	if !slices.Equal(bitsOf(a1), bitsOf(a2)) {
		t.Fatalf("c=%d g0=%d: scatter simd and generic differ", c, g0)
	}
}

func bitsOf(x []float32) []uint32 {
	b := make([]uint32, len(x))
	for i, v := range x {
		b[i] = math.Float32bits(v)
	}
	return b
}

// FuzzGroups holds the AVX2 group kernels equal to the pure-Go twins.
func FuzzGroups(f *testing.F) {
	f.Add(uint8(12), uint32(1), uint64(5))
	f.Fuzz(func(t *testing.T, c uint8, seed uint32, r uint64) {
		checkGroups(t, rand.New(rand.NewPCG(r, 1)), 3+int(c)%(blockLogMax-2), seed)
	})
}

// stateHash hashes B, Π and G of p at the indices [0, 4096) and the last
// 4096 of [0, L): a fingerprint of the random state.
func stateHash(p *Projection) uint64 {
	h := fnv.New64a()
	l := p.L()
	var b [12]byte
	put := func(i int) {
		v := [3]uint32{p.signBit(i), p.permAt(uint32(i)), math.Float32bits(p.gaussAt(uint32(i)))}
		for k, w := range v {
			b[4*k], b[4*k+1], b[4*k+2], b[4*k+3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
		}
		h.Write(b[:])
	}
	for i := range min(l, 4096) {
		put(i)
	}
	for i := max(4096, l-4096); i < l; i++ {
		put(i)
	}
	return h.Sum64()
}

// TestStatePinned pins the random state each version derives from a seed:
// a θ_d saved with a seed reloads to the same weights only while B, Π and
// G stay what they were when it was trained. If this fails, a change has
// altered a released version: restore it, and put new behaviour in a new
// StateVersion.
func TestStatePinned(t *testing.T) {
	for _, c := range []struct {
		v         StateVersion
		d, dim    int
		seed      uint64
		want      uint64
		wantScale float64
	}{
		// StateV1 as released before StateV2 existed (checked against that
		// commit's code).
		{StateV1, 20000, 768 * 3072, 7, 0x231434091a7e2a9a, 3.181887651083956e-07},
		{StateV1, 100, 1000, 1, 0xd3aec26d9ca82fce, 0.0010027994898948183},
		{StateV2, 20000, 768 * 3072, 7, 0x8a5d600b32539038, 3.179424009652545e-07},
		{StateV2, 100, 1000, 1, 0xf4ba1cc2ba343a1f, 0.0009854132955860932},
		{StateV2, 3, 5, 2, 0xabdd530000930500, 0.17002739199258637},
	} {
		p, err := NewVersion(c.d, c.dim, c.seed, c.v)
		if err != nil {
			t.Fatal(err)
		}
		if got := stateHash(p); got != c.want || p.Scale() != c.wantScale {
			t.Errorf("%v d=%d D=%d seed=%d: state hash %#x, scale %v; want %#x, %v", c.v, c.d, c.dim, c.seed, got, p.Scale(), c.want, c.wantScale)
		}
	}
}

// TestProjectionStatistics checks that the columns P e_j of seeded
// projections of both versions are nearly orthonormal (E PᵀP = I when
// D = L) and that their entries have the kurtosis of a Gaussian.
func TestProjectionStatistics(t *testing.T) {
	const d, dim = 64, 4096
	for _, v := range []StateVersion{StateV1, StateV2} {
		p, err := NewVersion(d, dim, 99, v)
		if err != nil {
			t.Fatal(err)
		}
		cols := make([][]float32, d)
		x := make([]float32, d)
		var m2, m4 float64
		for j := range cols {
			clear(x)
			x[j] = 1
			cols[j] = make([]float32, dim)
			if err := p.Forward(cols[j], x, nil); err != nil {
				t.Fatal(err)
			}
			for _, e := range cols[j] {
				e2 := float64(e) * float64(e)
				m2 += e2
				m4 += e2 * e2
			}
		}
		n := float64(d * dim)
		if k := m4 / n / (m2 / n * m2 / n); math.Abs(k-3) > 0.15 {
			t.Errorf("%v: kurtosis of the entries %.3f, want 3 (Gaussian)", v, k)
		}
		worst := 0.0
		for j := range d {
			if g := dot64(cols[j], to64(cols[j])); math.Abs(g-1) > 0.05 {
				t.Errorf("%v: ‖P e_%d‖² = %.4f, want 1", v, j, g)
			}
			for k := range j {
				worst = max(worst, math.Abs(dot64(cols[j], to64(cols[k]))))
			}
		}
		// Gaussian columns: off-diagonal entries of about 1/√D = 0.016.
		if worst > 0.08 {
			t.Errorf("%v: largest |⟨P e_j, P e_k⟩| = %.4f, want ≲ 5/√D", v, worst)
		}
	}
}

// TestDeviceSeedDefinition holds the seeded state of both versions equal
// to its definition in kernels.FastfoodSeed (what device backends
// implement): the same B, Π, G and span m at every index.
func TestDeviceSeedDefinition(t *testing.T) {
	for _, v := range []StateVersion{StateV1, StateV2} {
		for _, sh := range [][2]int{{1, 1}, {3, 5}, {5, 7}, {152, 32}, {100, 1000}, {20000, 1 << 16}, {3000, 300000}} {
			p, err := NewVersion(sh[0], sh[1], uint64(sh[0]+sh[1]), v)
			if err != nil {
				t.Fatal(err)
			}
			s, ok := p.DeviceSeed()
			if !ok {
				t.Fatal("seeded projection without a device seed")
			}
			if err := s.Validate(); err != nil {
				t.Fatalf("%v %v: %v", v, sh, err)
			}
			if s.M() != 1<<p.logM || s.GaussLen() != len(GaussTable(v)) {
				t.Fatalf("%v %v: m %d, table %d; projection has %d, %d", v, sh, s.M(), s.GaussLen(), 1<<p.logM, len(GaussTable(v)))
			}
			tab := GaussTable(v)
			for i := range p.L() {
				neg := p.signBit(i) == 1
				if s.Negative(i) != neg || s.Perm(i) != int(p.permAt(uint32(i))) || tab[s.GaussIndex(i)] != p.gaussAt(uint32(i)) {
					t.Fatalf("%v %v: index %d: seed (neg %v, Π %d, G %v), projection (%v, %d, %v)", v, sh, i,
						s.Negative(i), s.Perm(i), tab[s.GaussIndex(i)], neg, p.permAt(uint32(i)), p.gaussAt(uint32(i)))
				}
			}
		}
	}
	if lt := LaneTable(); len(lt) != 1024 || lt[8] != lanePerms()[1][0] {
		t.Fatal("LaneTable is not the flattened lane permutations")
	}
}
