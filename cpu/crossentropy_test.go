package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// TestCrossEntropy checks the losses against float64 logsumexp and DLogits
// against finite differences of GradScale·Σ loss (the float64
// formula for wide rows), with ignored rows, large
// logits, and DLogits aliasing Logits.
func TestCrossEntropy(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const ignore = -100
	for _, be := range opBackends() {
		for _, sh := range [][2]int{{1, 1}, {3, 5}, {7, 100}, {4, 3001}} {
			for _, alias := range []bool{false, true} {
				rows, vocab := sh[0], sh[1]
				x := opRandF32(rng, rows*vocab)
				for i := range x {
					x[i] = x[i]*3 + 50 // large logits: needs the max subtracted
				}
				labels := make([]int32, rows)
				for i := range labels {
					labels[i] = int32(rng.IntN(vocab))
				}
				if rows > 2 {
					labels[1] = ignore
				}
				const scale = 0.25
				lb := opUpload(t, be, x, true)
				p := kernels.CrossEntropyParams{Logits: lb, Labels: opUploadInt(t, be, labels),
					Loss: opUpload(t, be, make([]float32, rows), true), Rows: rows, Vocab: vocab, IgnoreIndex: ignore, GradScale: scale}
				p.DLogits = lb
				if !alias {
					p.DLogits = opUpload(t, be, make([]float32, rows*vocab), false)
				}
				opMustOK(t, be.CrossEntropy(p))
				lossRef := func(l []float64, r int) float64 {
					if labels[r] == ignore {
						return 0
					}
					m := math.Inf(-1)
					for _, v := range l {
						m = math.Max(m, v)
					}
					var s float64
					for _, v := range l {
						s += math.Exp(v - m)
					}
					return m + math.Log(s) - l[labels[r]]
				}
				x64 := opTo64(x)
				loss, grad := make([]float64, rows), make([]float64, rows*vocab)
				const h = 1e-5
				for r := range rows {
					row := x64[r*vocab : (r+1)*vocab]
					loss[r] = lossRef(row, r)
					if vocab > 200 {
						// Too wide for finite differences: the float64 formula.
						m := math.Inf(-1)
						for _, v := range row {
							m = math.Max(m, v)
						}
						for c, v := range row {
							if labels[r] != ignore {
								grad[r*vocab+c] = scale * math.Exp(v-m-(loss[r]+row[labels[r]]-m))
							}
						}
						if labels[r] != ignore {
							grad[r*vocab+int(labels[r])] -= scale
						}
						continue
					}
					for c := range row {
						v := row[c]
						row[c] = v + h
						lp := lossRef(row, r)
						row[c] = v - h
						grad[r*vocab+c] = scale * (lp - lossRef(row, r)) / (2 * h)
						row[c] = v
					}
				}
				what := fmt.Sprintf("%s cross-entropy %v alias=%v", be.Name(), sh, alias)
				opCheckRel(t, what+" loss", opDownload(t, be, p.Loss), loss, 1e-6)
				opCheckRel(t, what+" dlogits", opDownload(t, be, p.DLogits), grad, 1e-5)
			}
		}
	}
}

// TestCrossEntropyNoGrad checks the loss without DLogits.
func TestCrossEntropyNoGrad(t *testing.T) {
	be := New(Options{})
	x := []float32{1, 2, 3, -1, 0, 1000}
	p := kernels.CrossEntropyParams{Logits: opUpload(t, be, x, false), Labels: opUploadInt(t, be, []int32{2, 0}),
		Loss: opUpload(t, be, make([]float32, 2), false), Rows: 2, Vocab: 3, IgnoreIndex: -100}
	opMustOK(t, be.CrossEntropy(p))
	want := []float64{math.Log(math.Exp(-2) + math.Exp(-1) + 1), 1001}
	opCheckRel(t, "cross-entropy", opDownload(t, be, p.Loss), want, 1e-6)
}
