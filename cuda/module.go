//go:build linux && cgo && !nocuda

package cuda

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// ptxFS holds the PTX of every module, ptx/<module>.sm_<arch>.ptx, built
// from kernels/<module>.cu by `make ptx`.
//
//go:embed ptx/*.ptx
var ptxFS embed.FS

// ptxIndex lists the embedded PTX: the architectures (80, 90) of each
// module.
func ptxIndex() map[string][]int {
	ents, _ := ptxFS.ReadDir("ptx")
	idx := map[string][]int{}
	for _, e := range ents {
		mod, arch, ok := parsePTXName(e.Name())
		if ok {
			idx[mod] = append(idx[mod], arch)
		}
	}
	for _, a := range idx {
		slices.Sort(a)
	}
	return idx
}

// parsePTXName splits "<module>.sm_<arch>.ptx".
func parsePTXName(name string) (module string, arch int, ok bool) {
	base, found := strings.CutSuffix(name, ".ptx")
	if !found {
		return "", 0, false
	}
	dot := strings.LastIndexByte(base, '.')
	if dot <= 0 {
		return "", 0, false
	}
	num, found := strings.CutPrefix(base[dot+1:], "sm_")
	if !found {
		return "", 0, false
	}
	a, err := strconv.Atoi(num)
	if err != nil || a <= 0 {
		return "", 0, false
	}
	return base[:dot], a, true
}

// ptxArchs returns the architectures every module has PTX for, ascending.
func ptxArchs() []int {
	var common []int
	first := true
	for _, archs := range ptxIndex() {
		if first {
			common, first = slices.Clone(archs), false
			continue
		}
		common = slices.DeleteFunc(common, func(a int) bool { return !slices.Contains(archs, a) })
	}
	return common
}

// pickArch returns the highest of archs (ascending) not above the device's
// compute capability cc: the PTX the driver JIT-compiles for it.
func pickArch(cc int, archs []int) (int, error) {
	best := 0
	for _, a := range archs {
		if a <= cc {
			best = a
		}
	}
	if best == 0 {
		if len(archs) == 0 {
			return 0, fmt.Errorf("no PTX embedded in this build")
		}
		return 0, fmt.Errorf("compute capability %d.%d is below sm_%d, the oldest PTX built", cc/10, cc%10, archs[0])
	}
	return best, nil
}

// dim3 is a CUDA grid or block size.
type dim3 struct{ X, Y, Z uint32 }

// function is a kernel of a loaded module.
type function struct {
	b    *Backend
	name string         // module.kernel
	h    unsafe.Pointer // CUfunction
}

// fn returns kernel name of module (from ptx/<module>.sm_<arch>.ptx, the
// best architecture not above the device's), loading the module (a JIT
// compilation) on first use; modules and functions are cached.
func (b *Backend) fn(module, name string) (*function, error) {
	key := module + "." + name
	if f := b.funcs[key]; f != nil {
		return f, nil
	}
	if b.closed {
		return nil, fmt.Errorf("cuda: kernel %s on a closed backend", key)
	}
	m, ok := b.modules[module]
	if !ok {
		archs := ptxIndex()[module]
		if len(archs) == 0 {
			return nil, fmt.Errorf("cuda: no PTX for module %q (missing ptx/%s.sm_*.ptx; run make ptx)", module, module)
		}
		arch, err := pickArch(b.cc, archs)
		if err != nil {
			return nil, fmt.Errorf("cuda: module %s: %v", module, err)
		}
		file := path.Join("ptx", fmt.Sprintf("%s.sm_%d.ptx", module, arch))
		src, err := ptxFS.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("cuda: %w", err)
		}
		if m, err = b.moduleLoad(file, string(src)); err != nil {
			return nil, err
		}
		b.modules[module] = m
	}
	h, err := b.moduleFunction(m, name)
	if err != nil {
		return nil, fmt.Errorf("%w (kernel %q of module %s)", err, name, module)
	}
	f := &function{b: b, name: key, h: h}
	b.funcs[key] = f
	return f, nil
}

// setMaxDynamicShared lets f's launches use up to bytes of dynamic shared
// memory (beyond the default 48 KiB, up to the device's opt-in limit).
func (f *function) setMaxDynamicShared(bytes int) error {
	if bytes < 0 || bytes > max(f.b.maxSharedOptin, 48<<10) {
		return fmt.Errorf("cuda: %s: %d bytes of dynamic shared memory, the device allows %d", f.name, bytes, f.b.maxSharedOptin)
	}
	if err := f.b.funcSetAttr(f.h, funcAttrMaxDynamicSharedMem, bytes); err != nil {
		return fmt.Errorf("%w (kernel %s)", err, f.name)
	}
	return nil
}

// launch queues f on the backend's stream with the given grid, block,
// dynamic shared memory and arguments. Each argument is passed by value and
// must be a uint64 (a device address from ptr), int64, int32, uint32 or
// float32, matching the kernel's parameter (long long, int, unsigned,
// float, pointer); any other type is an error. A grid with a zero dimension
// launches nothing. The launch itself is checked; faults while the kernel
// runs surface at the next Sync or Download.
func (b *Backend) launch(f *function, grid, block dim3, shmem int, args ...any) error {
	if grid.X == 0 || grid.Y == 0 || grid.Z == 0 {
		return nil
	}
	if err := checkLaunch(grid, block, shmem, len(args)); err != nil {
		return fmt.Errorf("cuda: launch of %s: %w", f.name, err)
	}
	if b.closed {
		return fmt.Errorf("cuda: launch of %s on a closed backend", f.name)
	}
	for i, a := range args {
		slot := unsafe.Add(b.argVals, i*8)
		switch v := a.(type) {
		case uint64:
			*(*uint64)(slot) = v
		case int64:
			*(*int64)(slot) = v
		case int32:
			*(*int32)(slot) = v
		case uint32:
			*(*uint32)(slot) = v
		case float32:
			*(*float32)(slot) = v
		default:
			return fmt.Errorf("cuda: launch of %s: argument %d has type %T (want uint64, int64, int32, uint32 or float32)", f.name, i, a)
		}
	}
	return b.launchRaw(f.name, f.h, grid, block, shmem, b.argPtrs)
}

// checkLaunch validates a launch configuration against CUDA's limits.
func checkLaunch(grid, block dim3, shmem, nargs int) error {
	switch {
	case grid.X > 1<<31-1 || grid.Y > 65535 || grid.Z > 65535:
		return fmt.Errorf("grid %v exceeds (2³¹−1, 65535, 65535)", grid)
	case block.X == 0 || block.Y == 0 || block.Z == 0 || block.Z > 64 ||
		uint64(block.X)*uint64(block.Y)*uint64(block.Z) > 1024:
		return fmt.Errorf("block %v: want 1 to 1024 threads (z ≤ 64)", block)
	case shmem < 0:
		return fmt.Errorf("negative shared memory %d", shmem)
	case nargs > maxArgs:
		return fmt.Errorf("%d arguments, at most %d", nargs, maxArgs)
	}
	return nil
}

// grid1 is the grid of a one-dimensional grid-stride kernel over n
// elements with threads per block: enough blocks to give each thread one
// element, but no more than 32 per SM (the loop does the rest).
func (b *Backend) grid1(n int64, threads int) dim3 {
	blocks := (n + int64(threads) - 1) / int64(threads)
	blocks = min(blocks, int64(max(b.numSMs, 1))*32)
	return dim3{uint32(blocks), 1, 1}
}

// rowGrid is the grid of a kernel with one block per row (grid-stride over
// rows).
func rowGrid(rows int64) dim3 { return dim3{uint32(min(rows, 1<<20)), 1, 1} }
