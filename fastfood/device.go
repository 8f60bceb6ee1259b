package fastfood

import "github.com/compacter-go/compacter/kernels"

// GaussTable returns the 65536-entry quantile table the seeded G draws from
// (G(i) = GaussTable()[kernels.FastfoodSeed.GaussIndex(i)]): what a device
// backend uploads once as kernels.FastfoodParams.Gauss. It must not be
// modified.
func GaussTable() *[kernels.FastfoodGaussLen]float32 { return gaussTable() }

// DeviceSeed returns the constants of p's seeded state, from which a
// kernels.FastfoodBackend evaluates the projection on the device, and
// false for a projection with imported state (FromState), which has none.
func (p *Projection) DeviceSeed() (kernels.FastfoodSeed, bool) {
	if p.pi != nil {
		return kernels.FastfoodSeed{}, false
	}
	return kernels.FastfoodSeed{
		InDim: p.d, OutDim: p.dim, LogL: p.logL, LogM: p.logM,
		SignKey: p.keys.b,
		A0:      p.ix.a0, K0: p.ix.k0, A1: p.ix.a1, Shift: p.ix.shift, KG: p.ix.kg,
		Scale: float32(p.Scale()),
	}, true
}
