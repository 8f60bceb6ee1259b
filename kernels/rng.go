package kernels

// The dropout RNG is counter-based, so that every backend draws the same mask
// from (seed, index) without state, in any order, on any thread: element i of
// a Dropout call with offset o uses counter o+i.

// Mix64 is the SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijection of
// uint64 with good avalanche, the hash the dropout RNG is built on.
func Mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Mix32 is the MurmurHash3 32-bit finaliser (Appleby): a bijection of
// uint32 with good avalanche, the hash of the Fastfood random state
// (FastfoodSeed).
func Mix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	return h ^ h>>16
}

// Uniform returns the uniform number in [0, 1) with 24 random bits that the
// counter-based RNG draws for (seed, counter).
func Uniform(seed, counter uint64) float32 {
	u := Mix64(seed ^ Mix64(counter))
	return float32(u>>40) * (1.0 / (1 << 24))
}

// DropoutKeep reports whether dropout with probability p keeps the element
// with the given counter: Uniform(seed, counter) ≥ p.
func DropoutKeep(seed, counter uint64, p float32) bool {
	return Uniform(seed, counter) >= p
}
