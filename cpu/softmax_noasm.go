//go:build !amd64 || purego

package cpu

func expShiftAVX2(y []float32, m float32) float32 { return expShiftGeneric(y, m) }
