package fastfood

import (
	"math"
	"math/rand/v2"
)

// refState is the random state of a projection materialised in float64.
type refState struct {
	d, dim, l int
	b, g      []float64
	pi        []int
	divisor   float64
}

// stateOf materialises p's B, Π, G (seeded or imported).
func stateOf(p *Projection) refState {
	l := p.L()
	st := refState{d: p.d, dim: p.dim, l: l, b: make([]float64, l), g: make([]float64, l), pi: make([]int, l), divisor: p.divisor}
	for i := range l {
		i32 := uint32(i)
		st.b[i] = 1 - 2*float64(p.signBit(i))
		if p.pi != nil {
			st.pi[i], st.g[i] = int(p.pi[i]), float64(p.g[i])
		} else {
			st.pi[i] = int(p.permAt(i32))
			st.g[i] = float64(p.gaussAt(i32))
		}
	}
	return st
}

// fwhtRef is the unnormalised natural-order transform in float64.
func fwhtRef(v []float64) {
	for h := 1; h < len(v); h <<= 1 {
		for i := 0; i < len(v); i += 2 * h {
			for j := i; j < i+h; j++ {
				v[j], v[j+h] = v[j]+v[j+h], v[j]-v[j+h]
			}
		}
	}
}

// refForward is the official formula in float64:
// FWHT(FWHT(pad(x)·B)[Π]·G)[:D] / (divisor·√(D/L)).
func refForward(st refState, x []float64) []float64 {
	h := make([]float64, st.l)
	for i := range min(st.d, st.l) {
		h[i] = x[i] * st.b[i]
	}
	fwhtRef(h)
	h2 := make([]float64, st.l)
	for i := range h2 {
		h2[i] = h[st.pi[i]] * st.g[i]
	}
	fwhtRef(h2)
	s := st.divisor * math.Sqrt(float64(st.dim)/float64(st.l))
	out := make([]float64, st.dim)
	for i := range out {
		out[i] = h2[i] / s
	}
	return out
}

// refAdjoint is the transpose of refForward, step by step.
func refAdjoint(st refState, y []float64) []float64 {
	s := st.divisor * math.Sqrt(float64(st.dim)/float64(st.l))
	w := make([]float64, st.l)
	for i, v := range y {
		w[i] = v / s
	}
	fwhtRef(w)
	z := make([]float64, st.l)
	for i := range w {
		z[st.pi[i]] += w[i] * st.g[i]
	}
	fwhtRef(z)
	out := make([]float64, st.d)
	for i := range min(st.d, st.l) {
		out[i] = z[i] * st.b[i]
	}
	return out
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// relErr returns ‖got−ref‖/‖ref‖ (‖got‖ when ref is 0).
func relErr(got []float32, ref []float64) float64 {
	var num, den float64
	for i, r := range ref {
		e := float64(got[i]) - r
		num += e * e
		den += r * r
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func dot64(a []float32, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += float64(v) * b[i]
	}
	return s
}

func norm(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

// The per-element state of a seeded projection, for the references.

// permAt returns Π(i) of a seeded projection.
func (p *Projection) permAt(i uint32) uint32 {
	if p.ver == StateV2 {
		return p.blk.perm(i)
	}
	return p.ix.perm(i)
}

// gaussAt returns G(i) of a seeded projection.
func (p *Projection) gaussAt(i uint32) float32 {
	if p.ver == StateV2 {
		return p.blk.gauss(i)
	}
	return gaussTable()[p.ix.gaussIndex(i)]
}

// signBit returns 1 when B[i] = −1.
func (p *Projection) signBit(i int) uint32 {
	var w uint64
	if p.sign != nil {
		w = p.sign[i>>6]
	} else {
		w = p.keys.signWord(i >> 6)
	}
	return uint32(w>>(i&63)) & 1
}

// perm returns Π(i).
func (s *blockState) perm(i uint32) uint32 {
	if s.c < 3 {
		return i
	}
	b, lo := i>>uint(s.c), i&(1<<uint(s.c)-1)
	key, _ := s.keys(b)
	pu, _ := lanes(lo>>3, key)
	return s.beta.perm(b)<<uint(s.c) | s.q.tau(lo>>3, key)<<3 | uint32(lanePerms()[pu][lo&7])
}
