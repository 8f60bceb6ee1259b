package cpu

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePages asks the kernel to back large tensors with transparent huge
// pages (COMPACTER_CPU_HUGEPAGES=0 leaves them on small pages, e.g. to
// compare). Most Linux systems run THP in "madvise" mode, where only
// memory marked MADV_HUGEPAGE gets 2 MiB pages, and the Go runtime marks
// none: a GEMM streaming a 64 MiB operand then walks page tables for
// every 4 KiB.
var hugePages = os.Getenv("COMPACTER_CPU_HUGEPAGES") != "0"

// hugeMin is the smallest allocation (bytes) advised to use huge pages.
const hugeMin = 4 << 20

// adviseHuge marks the 2 MiB-aligned interior of a new allocation's memory
// for transparent huge pages. It is advice: errors are ignored.
func adviseHuge(f []float32) {
	if !hugePages || len(f)*4 < hugeMin {
		return
	}
	const page = 2 << 20
	p := unsafe.Pointer(unsafe.SliceData(f))
	lo := uintptr(p)
	hi := lo + uintptr(len(f))*4
	a, b := (lo+page-1)&^(page-1), hi&^(page-1)
	if b <= a {
		return
	}
	mem := unsafe.Slice((*byte)(unsafe.Add(p, a-lo)), b-a)
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE)
}
