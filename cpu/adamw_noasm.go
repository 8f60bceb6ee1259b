//go:build !amd64 || purego

package cpu

// adamwAVX2 runs the pure-Go twin where no assembly is built.
func adamwAVX2(p, g, m, v []float32, c *adamwConsts) { adamwGeneric(p, g, m, v, c) }
