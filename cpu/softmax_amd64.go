//go:build !purego

package cpu

// expShiftAVX2 sets y[i] = e^(y[i]−m) (m a maximum of y) and returns Σ y[i]
// (softmax_amd64.s).
//
//go:noescape
func expShiftAVX2(y []float32, m float32) float32
