//go:build !purego

package cpu

// Activation kernels (activation_amd64.s); n = len(dst) or len(dx), the
// other slices at least as long. dst may alias x and dx may alias dy.

//go:noescape
func reluAVX2(dst, x []float32)

//go:noescape
func reluBackwardAVX2(dx, dy, x []float32)

//go:noescape
func geluNewAVX2(dst, x []float32)

//go:noescape
func geluNewBackwardAVX2(dx, dy, x []float32)

//go:noescape
func siluAVX2(dst, x []float32)

//go:noescape
func siluBackwardAVX2(dx, dy, x []float32)

//go:noescape
func sigmoidAVX2(dst, x []float32)

//go:noescape
func sigmoidBackwardAVX2(dx, dy, x []float32)
