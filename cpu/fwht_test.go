package cpu

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
)

// fwhtDense returns H·x for the Sylvester Hadamard matrix H[i][j] =
// (−1)^popcount(i&j), scaled by 2^(−logN/2) when ortho, in float64.
func fwhtDense(x []float32, logN int, ortho bool) []float64 {
	n := 1 << logN
	y := make([]float64, n)
	s := 1.0
	if ortho {
		s = math.Exp2(-float64(logN) / 2)
	}
	for i := range n {
		var acc float64
		for j := range n {
			if bits.OnesCount(uint(i&j))%2 == 0 {
				acc += float64(x[j])
			} else {
				acc -= float64(x[j])
			}
		}
		y[i] = acc * s
	}
	return y
}

func TestFWHTDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, b := range opBackends() {
		for logN := 0; logN <= 9; logN++ {
			for _, batch := range []int{1, 3} {
				for _, ortho := range []bool{false, true} {
					n := 1 << logN
					x := opRandF32(rng, n*batch)
					buf := opUpload(t, b, x, true)
					opMustOK(t, b.FWHT(buf, logN, batch, ortho))
					got := opDownload(t, b, buf)
					for v := range batch {
						opCheckRel(t, b.Name()+" fwht dense", got[v*n:(v+1)*n], fwhtDense(x[v*n:(v+1)*n], logN, ortho), 1e-6)
					}
				}
			}
		}
	}
}

// TestFWHTInvolution checks FWHT(FWHT(x)) = 2^logN·x (and = x when
// orthonormal) on sizes that use the blocked and the parallel upper passes.
func TestFWHTInvolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	logs := []int{6, 10, 15, 16, 17, 18}
	if !testing.Short() {
		logs = append(logs, 19, 20, 21, 23)
	}
	for _, b := range opBackends() {
		for _, logN := range logs {
			for _, batch := range []int{1, 4, 33} {
				if (logN > 17 && batch > 1) || (logN > 10 && batch > 4) {
					continue
				}
				n := 1 << logN
				x := opRandF32(rng, n*batch)
				for _, ortho := range []bool{false, true} {
					buf := opUpload(t, b, x, true)
					opMustOK(t, b.FWHT(buf, logN, batch, ortho))
					opMustOK(t, b.FWHT(buf, logN, batch, ortho))
					s := math.Exp2(float64(logN))
					if ortho {
						s = 1
					}
					ref := opTo64(x)
					for i := range ref {
						ref[i] *= s
					}
					opCheckRel(t, b.Name()+" fwht involution", opDownload(t, b, buf), ref, 1e-6*float64(logN))
				}
			}
		}
	}
}

// TestFWHTSimdMatchesGeneric holds the assembly butterflies bit-identical to
// the pure-Go ones, and the result independent of the thread count.
func TestFWHTSimdMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range [][2]int{{3, 5}, {6, 3}, {7, 2}, {8, 1}, {10, 35}, {11, 3}, {14, 2}, {15, 1}, {16, 1}, {17, 3}, {18, 1}, {19, 3}, {20, 1}} {
		logN, batch := c[0], c[1]
		if testing.Short() && batch<<logN > 1<<18 {
			continue
		}
		x := opRandF32(rng, batch<<logN)
		var ref []float32
		for _, simd := range []bool{false, hasAVX2FMA} {
			for _, threads := range []int{1, 2, 3} {
				for _, ortho := range []bool{false, true} {
					y := append([]float32(nil), x...)
					fwht(simd, threads, y, logN, batch, ortho)
					if !ortho {
						if ref == nil {
							ref = y
						} else if i := opSameBits(y, ref); i >= 0 {
							t.Fatalf("logN=%d batch=%d simd=%v threads=%d: [%d] = %v, want %v", logN, batch, simd, threads, i, y[i], ref[i])
						}
					}
				}
			}
		}
	}
}

// TestFWHTLarge holds the serial transform of a vector the size of L3
// (blocked top levels, prefetching leaves) bit-identical to the threaded
// one and the streamed one (plain radix-8 top passes), and the result right
// (applied twice it gives 2^logN·x).
func TestFWHTLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB transforms")
	}
	logN := fwhtR64Log
	x := opRandF32(rand.New(rand.NewPCG(15, 16)), 1<<logN)
	y1 := append([]float32(nil), x...)
	fwht(hasAVX2FMA, 1, y1, logN, 1, false)
	y2 := append([]float32(nil), x...)
	fwht(hasAVX2FMA, 2, y2, logN, 1, false)
	if i := opSameBits(y1, y2); i >= 0 {
		t.Fatalf("serial [%d] = %v, threaded %v", i, y1[i], y2[i])
	}
	y3, _ := fusedRun(t, hasAVX2FMA, 1, x, logN, 2, true)
	if i := opSameBits(y1, y3); i >= 0 {
		t.Fatalf("serial [%d] = %v, fused %v", i, y1[i], y3[i])
	}
	fwht(hasAVX2FMA, 1, y1, logN, 1, true)
	ref := opTo64(x)
	for i := range ref {
		ref[i] *= math.Exp2(float64(logN) / 2)
	}
	opCheckRel(t, "fwht twice", y1, ref, 1e-6*float64(logN))
}

// TestFWHT64Prefetch holds the prefetching levels-0..5 kernel equal to the
// pure-Go one whatever it prefetches (nothing, less or more than x).
func TestFWHT64Prefetch(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	big := opRandF32(rng, 1<<14)
	for _, n := range []int{0, 64, 640, 4096} {
		for _, p := range []int{0, 1, 17, 64, 1000, 1 << 14} {
			x := opRandF32(rng, n)
			y := append([]float32(nil), x...)
			fwht64PfAVX2(x, big[:p])
			fwht64Generic(y)
			if i := opSameBits(x, y); i >= 0 {
				t.Fatalf("n=%d pf=%d: [%d] = %v, want %v", n, p, i, x[i], y[i])
			}
		}
	}
}

// fusedRun runs fwhtFused on x with load copying x in and emit copying
// the output out; it fails on an element emitted twice or never and
// returns the output and the offsets each part emitted, in order.
func fusedRun(t testing.TB, simd bool, threads int, x []float32, logN, parts int, useLoad bool) ([]float32, [][]int) {
	n := 1 << logN
	work := make([]float32, n)
	var load func([]float32, int)
	if useLoad {
		for i := range work {
			work[i] = float32(math.NaN())
		}
		load = func(v []float32, off int) { copy(v, x[off:off+len(v)]) }
	} else {
		copy(work, x)
	}
	y := make([]float32, n)
	seen := make([]int32, n)
	order := make([][]int, max(parts, 1))
	var mu sync.Mutex
	emit := func(p int, v []float32, off int) {
		copy(y[off:], v)
		mu.Lock()
		defer mu.Unlock()
		order[p] = append(order[p], off)
		for i := range v {
			seen[off+i]++
		}
	}
	fwhtFused(simd, threads, work, logN, load, parts, emit)
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("logN=%d: element %d emitted %d times", logN, i, c)
		}
	}
	return y, order
}

// TestFWHTFused holds the streamed transform bit-identical to the in-place
// one, with the same groups of blocks in the same order for any thread
// count.
func TestFWHTFused(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, logN := range []int{0, 3, 6, 10, 12, 13, 15, 16, 17, 19} {
		x := opRandF32(rng, 1<<logN)
		want := append([]float32(nil), x...)
		fwht(false, 1, want, logN, 1, false)
		for _, parts := range []int{1, 3, 8} {
			var ref [][]int
			for _, simd := range []bool{false, hasAVX2FMA} {
				for _, threads := range []int{1, 2, 3} {
					y, order := fusedRun(t, simd, threads, x, logN, parts, threads != 2)
					if i := opSameBits(y, want); i >= 0 {
						t.Fatalf("logN=%d parts=%d simd=%v threads=%d: [%d] = %v, want %v", logN, parts, simd, threads, i, y[i], want[i])
					}
					if ref == nil {
						ref = order
					} else if !reflect.DeepEqual(order, ref) {
						t.Fatalf("logN=%d parts=%d simd=%v threads=%d: emit order differs", logN, parts, simd, threads)
					}
				}
			}
		}
	}
	if err := FWHTFused(make([]float32, 4), 3, 1, nil, 1, func(int, []float32, int) {}); err == nil {
		t.Fatal("FWHTFused accepted 4 elements for logN 3")
	}
}

// FuzzFWHT holds the assembly transform bit-identical to the pure-Go one
// and, for small sizes, equal to the dense Hadamard product.
func FuzzFWHT(f *testing.F) {
	f.Add(uint8(6), uint8(1), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(uint8(12), uint8(2), []byte{255, 0, 17})
	f.Fuzz(func(t *testing.T, logN, batch uint8, seed []byte) {
		l, bt := int(logN%17), int(batch%3)+1
		var s uint64
		for _, c := range seed {
			s = s*131 + uint64(c)
		}
		rng := rand.New(rand.NewPCG(s, uint64(l)))
		x := opRandF32(rng, bt<<l)
		y1, y2 := append([]float32(nil), x...), append([]float32(nil), x...)
		fwht(hasAVX2FMA, 2, y1, l, bt, false)
		fwht(false, 1, y2, l, bt, false)
		if i := opSameBits(y1, y2); i >= 0 {
			t.Fatalf("logN=%d batch=%d: [%d] simd %v generic %v", l, bt, i, y1[i], y2[i])
		}
		y3, _ := fusedRun(t, hasAVX2FMA, 2, x[:1<<l], l, bt, bt != 2)
		if i := opSameBits(y3, y2[:1<<l]); i >= 0 {
			t.Fatalf("logN=%d: fused [%d] = %v, generic %v", l, i, y3[i], y2[i])
		}
		if l <= 8 {
			n := 1 << l
			for v := range bt {
				if e := opRelErr(y2[v*n:(v+1)*n], fwhtDense(x[v*n:(v+1)*n], l, false)); e > 1e-6 {
					t.Fatalf("logN=%d: relative error %g against the dense transform", l, e)
				}
			}
		}
	})
}
