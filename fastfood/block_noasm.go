//go:build !amd64 || purego

package fastfood

func ffGatherGroupsAVX2(dst, u []float32, tab *[1 << gauss2Log]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32) {
	ffGatherGroupsGeneric(dst, u, tab, pats, q, g0, key, kg)
}

func ffScatterGroupsAVX2(buf, acc []float32, tab *[1 << gauss2Log]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32) {
	ffScatterGroupsGeneric(buf, acc, tab, pats, q, g0, key, kg)
}
