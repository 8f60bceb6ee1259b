package fastfood

// ffGatherGroupsGeneric is the pure-Go twin of ffGatherGroupsAVX2: for each
// group g = g0 + j/8 of one StateV2 block and lane r = j mod 8,
// dst[j] = u[8τ(g) + pats[pu][r]]·tab[8τ'(g) + pats[pg][r]] (u is the
// block's chunk of the m-point vector; see groupParams). len(dst) is a
// multiple of 8.
func ffGatherGroupsGeneric(dst, u []float32, tab *[1 << gauss2Log]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32) {
	for j := 0; j+8 <= len(dst); j += 8 {
		g := g0 + uint32(j>>3)
		ub, tb := q.tau(g, key)<<3, q.tauG(g, kg)<<3
		pu, pg := lanes(g, key)
		for r := range 8 {
			dst[j+r] = u[ub+uint32(pats[pu][r])] * tab[tb+uint32(pats[pg][r])]
		}
	}
}

// ffScatterGroupsGeneric is the pure-Go twin of ffScatterGroupsAVX2: the
// adjoint of ffGatherGroupsGeneric, acc[8τ(g) + pats[pu][r]] +=
// buf[j]·tab[8τ'(g) + pats[pg][r]], the product rounded before the sum.
func ffScatterGroupsGeneric(buf, acc []float32, tab *[1 << gauss2Log]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32) {
	for j := 0; j+8 <= len(buf); j += 8 {
		g := g0 + uint32(j>>3)
		ub, tb := q.tau(g, key)<<3, q.tauG(g, kg)<<3
		pu, pg := lanes(g, key)
		for r := range 8 {
			acc[ub+uint32(pats[pu][r])] += float32(buf[j+r] * tab[tb+uint32(pats[pg][r])])
		}
	}
}
