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
//
// On Linux, buffers of 4 MiB and more are advised to use transparent huge
// pages (madvise MADV_HUGEPAGE; the products then walk far fewer page
// tables). Environment switches, for comparisons: COMPACTER_CPU_HUGEPAGES=0
// keeps small pages, COMPACTER_CPU_AVX512=0 the AVX2 SGEMM kernel on AVX-512
// machines, COMPACTER_CPU_INPLACEB=0 packs every B operand, and
// COMPACTER_CPU_SHAREB=0 the static SGEMM grid.
package cpu
