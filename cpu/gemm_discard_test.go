package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// TestGemmIntoDiscarded: a product into a discarded C (which reads as
// zeros) gives what it gives into a zeroed C, whether it writes all of C
// (then C takes memory uninitialized, poisoned here, and beta drops out)
// or only part of it (then the rest must still read as zeros); A and B are
// not disturbed, and the bytes in use count C again.
func TestGemmIntoDiscarded(t *testing.T) {
	poisonUninit.Store(true)
	defer poisonUninit.Store(false)
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	const m, n, k = 140, 130, 40 // C over cacheMin elements: Discard drops its memory
	for _, tc := range []struct {
		name      string
		ldc, rows int // C is rows×ldc; the product writes m×n of it
		beta      float32
		transA    bool
		wantWhole bool
	}{
		{"whole beta 1", n, m, 1, false, true},
		{"whole beta 0.5 transA", n, m, 0.5, true, true},
		{"whole beta 0", n, m, 0, false, true},
		{"wider ldc", n + 6, m, 1, false, false},
		{"more rows", n, m + 3, 1, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(Options{})
			defer b.Close()
			av, bv := rnd(m*k), rnd(k*n)
			mk := func(v []float32) kernels.Buffer {
				x, err := b.Alloc(kernels.Float32, len(v))
				if err != nil {
					t.Fatal(err)
				}
				if err := b.Upload(x, v); err != nil {
					t.Fatal(err)
				}
				return x
			}
			A, B := mk(av), mk(bv)
			lda := k
			if tc.transA {
				lda = m
			}
			run := func(c kernels.Buffer) []float32 {
				if err := b.Gemm(kernels.GemmParams{TransA: tc.transA, M: m, N: n, K: k, Alpha: 1.5, Beta: tc.beta, A: A, B: B, C: c, LDA: lda, LDC: tc.ldc}); err != nil {
					t.Fatal(err)
				}
				out := make([]float32, c.Len())
				if err := b.Download(out, c); err != nil {
					t.Fatal(err)
				}
				return out
			}
			want := run(mk(make([]float32, tc.rows*tc.ldc)))
			c := mk(rnd(tc.rows * tc.ldc))
			if err := b.Discard(c); err != nil {
				t.Fatal(err)
			}
			before := b.Mem().InUse
			if got := b.writesDiscarded(normalized(t, kernels.GemmParams{TransA: tc.transA, M: m, N: n, K: k, Alpha: 1.5, Beta: tc.beta, A: A, B: B, C: c, LDA: lda, LDC: tc.ldc})); got != tc.wantWhole {
				t.Errorf("writesDiscarded = %v, want %v", got, tc.wantWhole)
			}
			got := run(c)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("element %d: %v into the discarded C, %v into a zeroed one", i, got[i], want[i])
				}
			}
			if d := b.Mem().InUse - before; d != int64(4*c.Len()) {
				t.Errorf("bytes in use grew by %d, want C's %d", d, 4*c.Len())
			}
			ac := make([]float32, len(av))
			if err := b.Download(ac, A); err != nil {
				t.Fatal(err)
			}
			for i := range av {
				if ac[i] != av[i] {
					t.Fatalf("A changed at %d", i)
				}
			}
		})
	}
}

// normalized is p.Normalize for a test.
func normalized(t *testing.T, p kernels.GemmParams) kernels.GemmParams {
	t.Helper()
	p, err := p.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
