package cpu

import "math"

// packPositiveGeneric packs [x[i] > 0] into the bits of m (len(x) ≤
// 32·len(m), bits past len(x) zero), without branches: the sign of a ReLU
// output is as good as random.
func packPositiveGeneric(m []int32, x []float32) {
	for w := range m {
		c := x[w*32 : min(w*32+32, len(x))]
		var bits uint32
		for i, v := range c {
			// v > 0 ⇔ as int32 positive (sign clear, not ±0) and not NaN
			// (above 0x7f800000 = +Inf): both tests are sign bits (−u of -0.0,
			// math.MinInt32, is negative too; the NaN test rejects it).
			u := int32(math.Float32bits(v))
			pos := (uint32(-u) >> 31) & (uint32(u-0x7f800001) >> 31)
			bits |= pos << i
		}
		m[w] = int32(bits)
	}
}

// applyMaskGeneric sets d[i] = x[i] where bit i of m is set, else +0,
// without branches.
func applyMaskGeneric(d, x []float32, m []int32) {
	for w := range m {
		bits := uint32(m[w])
		c := x[w*32 : min(w*32+32, len(x))]
		o := d[w*32 : w*32+len(c)]
		for i, v := range c {
			keep := -(bits >> i & 1) // all ones or zero
			o[i] = math.Float32frombits(math.Float32bits(v) & keep)
		}
	}
}
