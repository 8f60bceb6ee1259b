package cpu

import (
	"math/rand/v2"
	"testing"
)

// TestPermute checks all 24 permutations of a 4-D array against the index
// formula.
func TestPermute(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	dims := [4]int{2, 3, 4, 5}
	x := opRandF32(rng, 120)
	var perms [][4]int
	for a := range 4 {
		for b := range 4 {
			for c := range 4 {
				d := 6 - a - b - c
				if a != b && a != c && b != c && d >= 0 && d < 4 && d != a && d != b && d != c {
					perms = append(perms, [4]int{a, b, c, d})
				}
			}
		}
	}
	if len(perms) != 24 {
		t.Fatalf("%d permutations", len(perms))
	}
	for _, be := range opBackends() {
		for _, perm := range perms {
			dst := opUpload(t, be, make([]float32, 120), true)
			opMustOK(t, be.Permute(dst, opUpload(t, be, x, true), dims, perm))
			got := opDownload(t, be, dst)
			var out [4]int
			for i := range 4 {
				out[i] = dims[perm[i]]
			}
			for o := range 120 {
				oi := [4]int{o / (out[1] * out[2] * out[3]), o / (out[2] * out[3]) % out[1], o / out[3] % out[2], o % out[3]}
				var si [4]int
				for k := range 4 {
					si[perm[k]] = oi[k]
				}
				s := ((si[0]*dims[1]+si[1])*dims[2]+si[2])*dims[3] + si[3]
				if got[o] != x[s] {
					t.Fatalf("%s perm %v: dst[%d] = %v, want src[%d] = %v", be.Name(), perm, o, got[o], s, x[s])
				}
			}
		}
	}
}

// TestPermuteHeads checks the attention head split and a last-axis swap on
// a T5-sized array (split over threads).
func TestPermuteHeads(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	dims := [4]int{4, 64, 12, 64}
	x := opRandF32(rng, 4*64*12*64)
	for _, be := range opBackends() {
		for _, perm := range [][4]int{{0, 2, 1, 3}, {0, 1, 3, 2}} {
			dst := opUpload(t, be, make([]float32, len(x)), false)
			opMustOK(t, be.Permute(dst, opUpload(t, be, x, false), dims, perm))
			got := opDownload(t, be, dst)
			var out [4]int
			for i := range 4 {
				out[i] = dims[perm[i]]
			}
			for o := range got {
				oi := [4]int{o / (out[1] * out[2] * out[3]), o / (out[2] * out[3]) % out[1], o / out[3] % out[2], o % out[3]}
				var si [4]int
				for k := range 4 {
					si[perm[k]] = oi[k]
				}
				if s := ((si[0]*dims[1]+si[1])*dims[2]+si[2])*dims[3] + si[3]; got[o] != x[s] {
					t.Fatalf("%s perm %v: dst[%d] = %v, want src[%d] = %v", be.Name(), perm, o, got[o], s, x[s])
				}
			}
		}
	}
}
