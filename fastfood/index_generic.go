package fastfood

// ffGatherGeneric is the pure-Go twin of ffGatherAVX2: dst[j] =
// u[Π(i0+j) mod m]·G(i0+j) for j < len(dst).
func ffGatherGeneric(dst, u []float32, tab *[1 << 16]float32, p *idxParams, i0 uint32) {
	for j := range dst {
		i := i0 + uint32(j)
		dst[j] = u[p.perm(i)&p.mm] * tab[p.gaussIndex(i)]
	}
}

// ffScatterGeneric is the pure-Go twin of ffScatterAVX2: acc[Π(i0+j) mod
// m] += buf[j]·G(i0+j) for j < len(buf), in order, the product rounded
// before the sum (the conversion forbids fusing them into an FMA).
func ffScatterGeneric(acc, buf []float32, tab *[1 << 16]float32, p *idxParams, i0 uint32) {
	for j, v := range buf {
		i := i0 + uint32(j)
		acc[p.perm(i)&p.mm] += float32(v * tab[p.gaussIndex(i)])
	}
}
