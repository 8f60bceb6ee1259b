package kernels

import (
	"math"
	"testing"
)

// TestMix64KnownValues checks Mix64 against the published SplitMix64
// sequence for seed 0 (state advancing by the golden gamma): Mix64(i·γ) is
// its (i+1)-th output.
func TestMix64KnownValues(t *testing.T) {
	const gamma = 0x9e3779b97f4a7c15
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f, 0xf88bb8a8724c81ec}
	for i, w := range want {
		if got := Mix64(uint64(i) * gamma); got != w {
			t.Errorf("Mix64(%d·γ) = %#x, want %#x", i, got, w)
		}
	}
}

// TestUniformGolden pins Uniform on a few (seed, counter) pairs (values
// computed independently, in Python, from the SplitMix64 definition): every
// backend draws exactly these numbers, so they must never change.
func TestUniformGolden(t *testing.T) {
	for _, c := range []struct {
		seed, counter uint64
		bits          uint32 // the 24 random bits: Uniform·2^24
	}{
		{0, 0, 10946269},
		{1, 0, 570621},
		{0, 1, 6177195},
		{12345, 678, 9343175},
		{42, 1 << 40, 3085512},
	} {
		if u := Uniform(c.seed, c.counter); u != float32(c.bits)/(1<<24) {
			t.Errorf("Uniform(%d, %d) = %v, want %d/2^24", c.seed, c.counter, u, c.bits)
		}
	}
}

// TestUniformDistribution checks range, resolution, moments and a
// chi-squared test on 64 bins over 2^17 draws.
func TestUniformDistribution(t *testing.T) {
	const n, bins = 1 << 17, 64
	var hist [bins]int
	var sum, sum2 float64
	for i := range uint64(n) {
		u := Uniform(0xdeadbeef, i)
		if !(u >= 0 && u < 1) {
			t.Fatalf("Uniform = %v outside [0, 1)", u)
		}
		if f := u * (1 << 24); f != float32(math.Floor(float64(f))) {
			t.Fatalf("Uniform = %v is not a multiple of 2^-24", u)
		}
		hist[int(u*bins)]++
		sum += float64(u)
		sum2 += float64(u) * float64(u)
	}
	mean, vr := sum/n, sum2/n-(sum/n)*(sum/n)
	if math.Abs(mean-0.5) > 5*math.Sqrt(1.0/12/n) {
		t.Errorf("mean %v, want 0.5", mean)
	}
	if math.Abs(vr-1.0/12) > 0.002 {
		t.Errorf("variance %v, want 1/12", vr)
	}
	var chi2 float64
	e := float64(n) / bins
	for _, c := range hist {
		chi2 += (float64(c) - e) * (float64(c) - e) / e
	}
	// 63 degrees of freedom: the 99.99th percentile is about 116.
	if chi2 > 116 {
		t.Errorf("chi-squared %v over %d bins: not uniform", chi2, bins)
	}
	// Consecutive counters are not correlated.
	var c float64
	for i := range uint64(n) {
		c += (float64(Uniform(7, i)) - 0.5) * (float64(Uniform(7, i+1)) - 0.5)
	}
	if c /= n; math.Abs(c) > 5*(1.0/12)/math.Sqrt(n) {
		t.Errorf("lag-1 correlation %v", c*12)
	}
}

func TestDropoutKeep(t *testing.T) {
	const n = 1 << 16
	for _, p := range []float32{0, 0.1, 0.5, 0.9} {
		kept := 0
		for i := range uint64(n) {
			k := DropoutKeep(99, i, p)
			if k != (Uniform(99, i) >= p) {
				t.Fatalf("DropoutKeep(99, %d, %v) = %v, Uniform %v", i, p, k, Uniform(99, i))
			}
			if p == 0 && !k {
				t.Fatalf("p = 0 dropped counter %d", i)
			}
			// A kept element stays kept at a lower p (masks are nested).
			if k && p > 0 && !DropoutKeep(99, i, p/2) {
				t.Fatalf("counter %d kept at p=%v but dropped at p=%v", i, p, p/2)
			}
			if k {
				kept++
			}
		}
		rate := 1 - float64(kept)/n
		if sd := math.Sqrt(float64(p) * (1 - float64(p)) / n); math.Abs(rate-float64(p)) > 5*sd+1e-12 {
			t.Errorf("p = %v: dropped fraction %v", p, rate)
		}
	}
}

// TestMix32KnownValues checks Mix32 against the MurmurHash3 fmix32 of the
// reference implementation.
func TestMix32KnownValues(t *testing.T) {
	for in, want := range map[uint32]uint32{0: 0, 1: 0x514e28b7, 0xdeadbeef: 0x0de5c6a9} {
		if got := Mix32(in); got != want {
			t.Errorf("Mix32(%#x) = %#x, want %#x", in, got, want)
		}
	}
}
