//go:build !amd64 || purego

package cpu

func packPositiveAVX2(m []int32, x []float32) { packPositiveGeneric(m, x) }
func applyMaskAVX2(d, x []float32, m []int32) { applyMaskGeneric(d, x, m) }
