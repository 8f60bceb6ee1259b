//go:build !linux

package cpu

// adviseHuge does nothing outside Linux.
func adviseHuge([]float32) {}
