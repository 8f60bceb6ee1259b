//go:build !amd64 || purego

package cpu

func reluAVX2(dst, x []float32)               { reluGeneric(dst, x) }
func reluBackwardAVX2(dx, dy, x []float32)    { reluBackwardGeneric(dx, dy, x) }
func geluNewAVX2(dst, x []float32)            { geluNewGeneric(dst, x) }
func geluNewBackwardAVX2(dx, dy, x []float32) { geluNewBackwardGeneric(dx, dy, x) }
func siluAVX2(dst, x []float32)               { siluGeneric(dst, x) }
func siluBackwardAVX2(dx, dy, x []float32)    { siluBackwardGeneric(dx, dy, x) }
func sigmoidAVX2(dst, x []float32)            { sigmoidGeneric(dst, x) }
func sigmoidBackwardAVX2(dx, dy, x []float32) { sigmoidBackwardGeneric(dx, dy, x) }
