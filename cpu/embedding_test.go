package cpu

import (
	"math/rand/v2"
	"testing"
)

// TestEmbedding checks the gather and the scatter-add with repeated ids
// (parallel over columns for the largest shape) against serial float64
// sums.
func TestEmbedding(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for _, be := range opBackends() {
		for _, sh := range [][3]int{{1, 1, 1}, {5, 3, 7}, {10, 64, 1000}, {7, 300, 33}, {50, 512, 200}} {
			vocab, dim, n := sh[0], sh[1], sh[2]
			table, d0 := opRandF32(rng, vocab*dim), opRandF32(rng, vocab*dim)
			ids := make([]int32, n)
			for i := range ids {
				ids[i] = int32(rng.IntN(vocab))
			}
			idb := opUploadInt(t, be, ids)
			dst := opUpload(t, be, make([]float32, n*dim), true)
			opMustOK(t, be.Embedding(dst, opUpload(t, be, table, true), idb, dim))
			got := opDownload(t, be, dst)
			for i, id := range ids {
				for c := range dim {
					if got[i*dim+c] != table[int(id)*dim+c] {
						t.Fatalf("%s embedding [%d,%d] = %v", be.Name(), i, c, got[i*dim+c])
					}
				}
			}
			dout := opRandF32(rng, n*dim)
			dt := opUpload(t, be, d0, true)
			opMustOK(t, be.EmbeddingBackward(dt, opUpload(t, be, dout, true), idb, dim))
			ref := opTo64(d0)
			for i, id := range ids {
				for c := range dim {
					ref[int(id)*dim+c] += float64(dout[i*dim+c])
				}
			}
			opCheckRel(t, be.Name()+" embedding backward", opDownload(t, be, dt), ref, 1e-6)
		}
	}
}
