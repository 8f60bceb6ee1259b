//go:build !amd64 || purego

package cpu

// hasAVX2FMA is false where no assembly kernels are built (other
// architectures, or the purego build tag): every op runs its pure-Go twin.
const hasAVX2FMA = false

// hasAVX512 is false where no assembly kernels are built.
const hasAVX512 = false
