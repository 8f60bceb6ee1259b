//go:build !purego

package cpu

// adamwAVX2 is the AVX2 twin of adamwGeneric on a multiple of 8 elements.
//
//go:noescape
func adamwAVX2(p, g, m, v []float32, c *adamwConsts)
