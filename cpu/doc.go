// Package cpu is the CPU backend of compacter: a pure-Go implementation of
// every kernels.Backend operation, with AVX2+FMA Go assembly for the hot
// paths (a packed, cache-blocked SGEMM, the fused Kronecker kernels, the
// Walsh–Hadamard butterflies and the common elementwise operations).
//
// Importing the package registers two backends with package kernels:
//
//   - "cpu": the assembly kernels where the CPU has AVX2 and FMA (chosen
//     once at init with cpuid), the pure-Go ones elsewhere;
//   - "purego": always the pure-Go kernels.
//
// Built with -tags purego, no assembly is compiled and both run pure Go.
// Every assembly kernel has a pure-Go twin of the same name with the suffix
// Generic (for example sgemmKernelAVX2 and sgemmKernelGeneric), and the tests
// hold the two to the same answers. The raw-slice entry points (Sgemm, ...)
// are exported for users who want the kernels without buffers.
package cpu
