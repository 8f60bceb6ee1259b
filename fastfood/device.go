package fastfood

import "github.com/compacter-go/compacter/kernels"

// GaussTable returns the quantile table the seeded G of version v draws
// from (0 means LatestState): the 65536 entries of StateV1 or the 4096 of
// StateV2, what a device backend uploads once as kernels.FastfoodParams.Gauss
// (see kernels.FastfoodSeed for how G indexes it). It must not be modified.
func GaussTable(v StateVersion) []float32 {
	if v == StateV1 {
		return gaussTable()[:]
	}
	return gaussTable2()[:]
}

// LaneTable returns a copy of StateV2's lane permutations flattened (rows
// of eight): what a device backend uploads once as
// kernels.FastfoodParams.Lanes.
func LaneTable() []int32 {
	t := kernels.FastfoodLanePerms()
	out := make([]int32, 0, kernels.FastfoodLanesLen)
	for i := range t {
		out = append(out, t[i][:]...)
	}
	return out
}

// DeviceSeed returns the constants of p's seeded state, from which a
// kernels.FastfoodBackend evaluates the projection on the device, and
// false for a projection with imported state (FromState), which has none.
func (p *Projection) DeviceSeed() (kernels.FastfoodSeed, bool) {
	if p.pi != nil {
		return kernels.FastfoodSeed{}, false
	}
	s := kernels.FastfoodSeed{
		InDim: p.d, OutDim: p.dim, LogL: p.logL, LogM: p.logM,
		SignKey: p.keys.b,
		A0:      p.ix.a0, K0: p.ix.k0, A1: p.ix.a1, Shift: p.ix.shift, KG: p.ix.kg,
		Scale:   float32(p.Scale()),
		Version: int(p.ver),
	}
	if p.ver == StateV2 {
		b := &p.blk
		s.A0, s.K0, s.A1, s.Shift = b.beta.a0, b.beta.k0, b.beta.a1, b.beta.shift
		s.KG, s.KB, s.BlockLog = b.kg, b.kb, b.c
		s.A2, s.A3, s.Shift2, s.A4, s.A5 = b.q.a2, b.q.a3, b.q.shift2, b.q.a4, b.q.a5
	}
	return s, true
}
