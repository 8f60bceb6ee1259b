// Package blas compares the CPU backend's SGEMM with OpenBLAS.
//
// Everything but this comment is behind the openblas build tag and needs
// cgo and Debian's libopenblas-dev (apt-get install libopenblas-dev), so
// the default build never links a C library:
//
//	go test -tags openblas -run XXX -bench . -benchtime 5x -count 3 ./bench/blas
//
// BenchmarkSgemm runs the T5 shapes at one thread and at GOMAXPROCS threads
// for the pure-Go backend ("purego"), the assembly one ("simd"), gonum's
// native Sgemm ("gonum") and cblas_sgemm ("openblas") side by side, each
// reporting GFLOP/s, so ratios come from one run on one machine load.
package blas
