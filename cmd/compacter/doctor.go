package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/klauspost/cpuid/v2"

	"github.com/compacter-go/compacter/cpu"
	"github.com/compacter-go/compacter/cuda" // registers the cuda backend
	"github.com/compacter-go/compacter/dist"
	"github.com/compacter-go/compacter/kernels"
)

func init() {
	commands["doctor"] = command{
		summary: "report the CPU features, what the CUDA loader found, MPI and NCCL",
		run: func(_ context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
			return runDoctor(args, stdout)
		},
	}
}

// runDoctor prints the CPU, its features and whether the assembly kernels
// run; the CUDA driver library and version, the devices, cuBLAS and the PTX
// architecture the loader chose, or the exact reason the GPU backend is
// unavailable; and the backend Default would pick.
func runDoctor(args []string, w io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("doctor takes no arguments, got %q", args)
	}
	fmt.Fprintln(w, "cpu:")
	fmt.Fprintf(w, "  %s, %d logical CPUs, %s/%s\n", cpuid.CPU.BrandName, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	var feats []string
	for _, f := range []struct {
		name string
		id   cpuid.FeatureID
	}{{"avx", cpuid.AVX}, {"avx2", cpuid.AVX2}, {"fma", cpuid.FMA3}, {"avx512f", cpuid.AVX512F}, {"neon", cpuid.ASIMD}} {
		if cpuid.CPU.Supports(f.id) {
			feats = append(feats, f.name)
		}
	}
	fmt.Fprintf(w, "  features: %s\n", strings.Join(feats, " "))
	fmt.Fprintf(w, "  assembly kernels (AVX2+FMA): %s\n", yesNo(cpu.SIMD()))

	r := cuda.Inspect()
	fmt.Fprintln(w, "cuda:")
	if r.Libcuda != "" {
		fmt.Fprintf(w, "  libcuda: %s\n", r.Libcuda)
	}
	if r.DriverVersion > 0 {
		fmt.Fprintf(w, "  driver: CUDA %d.%d (need %d.%d or newer)\n", r.DriverVersion/1000, r.DriverVersion%1000/10,
			cuda.MinDriverVersion/1000, cuda.MinDriverVersion%1000/10)
	}
	for _, d := range r.Devices {
		sel := ""
		if d.Ordinal == r.Device {
			sel = "  [selected]"
		}
		fmt.Fprintf(w, "  device %v%s\n", d, sel)
	}
	if r.PTXArch != "" {
		fmt.Fprintf(w, "  ptx: %s\n", r.PTXArch)
	}
	if r.Cublas != "" {
		fmt.Fprintf(w, "  cublas: %s (%s)\n", r.Cublas, r.CublasPath)
	}
	for _, t := range r.Tried {
		fmt.Fprintf(w, "  cublas tried: %s\n", t)
	}
	if r.Err != nil {
		fmt.Fprintf(w, "  status: unavailable: %v\n", r.Err)
	} else {
		fmt.Fprintln(w, "  status: available")
	}
	fmt.Fprintln(w, "mpi:")
	if lib, err := dist.MPIAvailable(); err != nil {
		fmt.Fprintf(w, "  status: unavailable: %v\n", err)
	} else {
		fmt.Fprintf(w, "  library: %s (libmpi.so.40)\n", lib)
		if dist.Launched() {
			fmt.Fprintln(w, "  status: available; this process runs under mpirun")
		} else {
			fmt.Fprintln(w, "  status: available (train and bench run data-parallel under mpirun -np N)")
		}
	}
	fmt.Fprintln(w, "nccl:")
	if v, err := cuda.NCCLAvailable(); err != nil {
		fmt.Fprintf(w, "  status: unavailable: %v\n", err)
	} else {
		fmt.Fprintf(w, "  status: available: NCCL %d.%d.%d (GPU ranks sum gradients on the device)\n", v/10000, v/100%100, v%100)
	}
	best, err := kernels.Best()
	if err != nil {
		fmt.Fprintf(w, "default backend: none (%v)\n", err)
		return nil
	}
	fmt.Fprintf(w, "default backend: %s\n", best)
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
