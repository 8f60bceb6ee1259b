package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// TestSignMask holds PackPositive and ApplyMask to their definitions at
// lengths around word and chunk boundaries, with ±0, subnormals, ±Inf and
// NaN among the values, and ApplyMask in place.
func TestSignMask(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for _, bn := range []string{"cpu", "purego"} {
		be, err := kernels.Open(bn)
		if err != nil {
			t.Fatal(err)
		}
		sm := be.(kernels.SignMasker)
		for _, n := range []int{1, 31, 32, 33, 1000, elemGrain + 77, 3 * elemGrain} {
			x := make([]float32, n)
			dy := make([]float32, n)
			for i := range x {
				if rng.IntN(8) == 0 {
					x[i] = special[rng.IntN(len(special))]
				} else {
					x[i] = float32(rng.NormFloat64())
				}
				dy[i] = float32(rng.NormFloat64())
			}
			xb, _ := be.Alloc(kernels.Float32, n)
			db, _ := be.Alloc(kernels.Float32, n)
			mb, _ := be.Alloc(kernels.Int32, kernels.MaskWords(n))
			be.Upload(xb, x)
			be.Upload(db, dy)
			if err := sm.PackPositive(mb, xb); err != nil {
				t.Fatal(err)
			}
			if err := sm.ApplyMask(db, db, mb); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, n)
			be.Download(got, db)
			words := make([]int32, kernels.MaskWords(n))
			be.DownloadInt32(words, mb)
			for i := range x {
				want := float32(0)
				if x[i] > 0 {
					want = dy[i]
				}
				if got[i] != want {
					t.Fatalf("%s n=%d: x[%d] = %v: got %v, want %v", bn, n, i, x[i], got[i], want)
				}
			}
			if r := n % 32; r != 0 && uint32(words[len(words)-1])>>r != 0 {
				t.Fatalf("%s n=%d: bits past n set in %#x", bn, n, uint32(words[len(words)-1]))
			}
			if err := sm.ApplyMask(db, xb, xb); err == nil {
				t.Errorf("%s: ApplyMask with a float32 mask: no error", bn)
			}
			short, _ := be.Alloc(kernels.Int32, kernels.MaskWords(n)+1)
			if err := sm.PackPositive(short, xb); err == nil {
				t.Errorf("%s: PackPositive with a mask of the wrong length: no error", bn)
			}
			for _, b := range []kernels.Buffer{xb, db, mb, short} {
				be.Free(b)
			}
		}
		be.Close()
	}
}
