package cpu

// fmaPeakGeneric is the pure-Go twin of fmaPeakAVX512 and fmaPeakAVX2: n
// iterations of acc = acc·one + one on eight independent scalar
// accumulators, returning their mean (n).
func fmaPeakGeneric(n int) float32 {
	one := float32(1)
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for range n {
		s0 = s0*one + one
		s1 = s1*one + one
		s2 = s2*one + one
		s3 = s3*one + one
		s4 = s4*one + one
		s5 = s5*one + one
		s6 = s6*one + one
		s7 = s7*one + one
	}
	// Every chain feeds the result, so none is dead code; exact for n < 2²¹.
	return (s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7) / 8
}
