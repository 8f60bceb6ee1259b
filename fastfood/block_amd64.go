//go:build !purego

package fastfood

// ffGatherGroupsAVX2 is ffGatherGroupsGeneric for len(dst) a multiple of
// 64 (eight groups at a time).
//
//go:noescape
func ffGatherGroupsAVX2(dst, u []float32, tab *[1 << gauss2Log]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32)

// ffScatterGroupsAVX2 is ffScatterGroupsGeneric for len(buf) a multiple
// of 64.
//
//go:noescape
func ffScatterGroupsAVX2(buf, acc []float32, tab *[1 << gauss2Log]float32, pats *[128][8]int32, q *groupParams, g0, key, kg uint32)
