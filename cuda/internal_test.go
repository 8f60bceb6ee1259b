//go:build linux && cgo && !nocuda

package cuda

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// fakeDevice stands in for cuMemAlloc/cuMemFree: it hands out addresses,
// fails with CUDA_ERROR_OUT_OF_MEMORY beyond a capacity, and records frees.
type fakeDevice struct {
	next, used, capacity int64
	live                 map[uint64]int64
	syncs                int
}

func (d *fakeDevice) allocator() allocator {
	d.live = map[uint64]int64{}
	d.next = 1 << 20
	return allocator{
		alloc: func(n int64) (uint64, error) {
			if d.used+n > d.capacity {
				return 0, &cudaError{call: "cuMemAlloc_v2", code: cudaErrorOutOfMemory}
			}
			p := uint64(d.next)
			d.next += n
			d.used += n
			d.live[p] = n
			return p, nil
		},
		free: func(p uint64) error {
			n, ok := d.live[p]
			if !ok {
				return fmt.Errorf("free of unknown %#x", p)
			}
			delete(d.live, p)
			d.used -= n
			return nil
		},
		sync: func() error { d.syncs++; return nil },
	}
}

func TestSizeClass(t *testing.T) {
	prev := int64(0)
	for n := int64(1); n < 1<<24; n = n*9/8 + 1 {
		c := sizeClass(n)
		if c < n || c < 512 || (n > 512 && float64(c) > 1.25*float64(n)+1) {
			t.Fatalf("sizeClass(%d) = %d", n, c)
		}
		if c < prev {
			t.Fatalf("sizeClass not monotone at %d", n)
		}
		if sizeClass(c) != c {
			t.Fatalf("class %d of %d is not its own class", c, n)
		}
		prev = c
	}
}

func TestAllocatorReuse(t *testing.T) {
	d := &fakeDevice{capacity: 1 << 30}
	a := d.allocator()
	x, err := a.get(4000)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := a.get(100)
	if a.inUse != 4100 || a.peak != 4100 {
		t.Fatalf("inUse %d peak %d, want 4100", a.inUse, a.peak)
	}
	a.put(x, 4000)
	if !x.freed || a.inUse != 100 || a.cached != x.size {
		t.Fatalf("after put: freed %v inUse %d cached %d", x.freed, a.inUse, a.cached)
	}
	z, _ := a.get(3900) // same size class: the block comes back
	if z != x || z.freed || a.cached != 0 {
		t.Fatalf("get of the same class did not reuse the block (%p, %p)", z, x)
	}
	e, err := a.get(0)
	if err != nil || e.size != 0 || e.ptr != 0 {
		t.Fatalf("empty block %+v, %v", e, err)
	}
	a.put(e, 0)
	if err := a.releaseAll(); err != nil {
		t.Fatal(err)
	}
	if len(d.live) != 0 || !y.freed || !z.freed || a.inUse != 0 {
		t.Fatalf("releaseAll left %d device blocks, inUse %d", len(d.live), a.inUse)
	}
}

func TestAllocatorOOM(t *testing.T) {
	d := &fakeDevice{capacity: 1 << 20}
	a := d.allocator()
	x, err := a.get(600 << 10)
	if err != nil {
		t.Fatal(err)
	}
	a.put(x, 600<<10)
	// 600 KiB cached + 500 KiB asked > 1 MiB: the cache is released, then
	// the allocation succeeds.
	y, err := a.get(500 << 10)
	if err != nil {
		t.Fatalf("retry after releasing the cache failed: %v", err)
	}
	if a.cached != 0 || d.syncs == 0 {
		t.Errorf("cache not released before the retry (cached %d, syncs %d)", a.cached, d.syncs)
	}
	_, err = a.get(800 << 10)
	if !errors.Is(err, kernels.ErrOutOfMemory) || !isOOM(err) {
		t.Fatalf("alloc beyond capacity: %v, want ErrOutOfMemory wrapping the CUDA error", err)
	}
	for _, s := range []string{"819200 bytes", "512000 bytes in use"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("OOM error %q lacks %q", err, s)
		}
	}
	a.put(y, 500<<10)
}

func TestBufferViews(t *testing.T) {
	d := &fakeDevice{capacity: 1 << 30}
	b := &Backend{mem: d.allocator()}
	other := &Backend{}
	blk, _ := b.mem.get(400)
	x := &Buffer{owner: b, blk: blk, dt: kernels.Float32, n: 100}
	v := x.Slice(3, 10).Slice(2, 5)
	if v.Len() != 5 || v.DType() != kernels.Float32 {
		t.Fatalf("view len %d dtype %v", v.Len(), v.DType())
	}
	p, err := b.ptr(v)
	if err != nil || p != blk.ptr+5*4 {
		t.Fatalf("ptr of a view at offset 5: %#x, %v (block at %#x)", p, err, blk.ptr)
	}
	if p, err := b.ptr(nil); p != 0 || err != nil {
		t.Errorf("ptr(nil) = %#x, %v", p, err)
	}
	if _, err := other.ptr(x); !errors.Is(err, kernels.ErrBackend) {
		t.Errorf("ptr of another backend's buffer: %v", err)
	}
	if err := b.Free(v); err == nil {
		t.Error("Free of a view succeeded")
	}
	if err := b.Free(x); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ptr(v); !errors.Is(err, kernels.ErrBackend) {
		t.Errorf("ptr of a view of a freed buffer: %v", err)
	}
	if err := b.Free(x); !errors.Is(err, kernels.ErrBackend) {
		t.Errorf("Free twice: %v", err)
	}
	for _, r := range [][2]int{{-1, 2}, {0, 101}, {100, 1}, {3, -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Slice(%d, %d) of 100 did not panic", r[0], r[1])
				}
			}()
			x.Slice(r[0], r[1])
		}()
	}
	if got := x.Slice(100, 0).Len(); got != 0 {
		t.Errorf("empty view at the end has %d elements", got)
	}
}

func TestCheckLaunch(t *testing.T) {
	ok := []struct{ g, b dim3 }{{dim3{1, 1, 1}, dim3{1, 1, 1}}, {dim3{1<<31 - 1, 65535, 65535}, dim3{1024, 1, 1}}, {dim3{5, 1, 1}, dim3{32, 8, 4}}}
	for _, c := range ok {
		if err := checkLaunch(c.g, c.b, 0, 3); err != nil {
			t.Errorf("checkLaunch(%v, %v): %v", c.g, c.b, err)
		}
	}
	bad := []struct {
		g, b  dim3
		shm   int
		nargs int
	}{{dim3{1, 65536, 1}, dim3{1, 1, 1}, 0, 0}, {dim3{1, 1, 1}, dim3{1025, 1, 1}, 0, 0}, {dim3{1, 1, 1}, dim3{32, 32, 2}, 0, 0},
		{dim3{1, 1, 1}, dim3{0, 1, 1}, 0, 0}, {dim3{1, 1, 1}, dim3{1, 1, 65}, 0, 0}, {dim3{1, 1, 1}, dim3{1, 1, 1}, -1, 0},
		{dim3{1, 1, 1}, dim3{1, 1, 1}, 0, maxArgs + 1}}
	for _, c := range bad {
		if err := checkLaunch(c.g, c.b, c.shm, c.nargs); err == nil {
			t.Errorf("checkLaunch(%v, %v, %d, %d) accepted", c.g, c.b, c.shm, c.nargs)
		}
	}
}

func TestPickArch(t *testing.T) {
	for _, c := range []struct{ cc, want int }{{80, 80}, {86, 80}, {89, 80}, {90, 90}, {100, 90}, {120, 90}, {75, 0}} {
		got, err := pickArch(c.cc, []int{80, 90})
		if got != c.want || (err != nil) != (c.want == 0) {
			t.Errorf("pickArch(%d) = %d, %v; want %d", c.cc, got, err, c.want)
		}
	}
	if _, err := pickArch(90, nil); err == nil {
		t.Error("pickArch with no PTX succeeded")
	}
	if got := ptxArchs(); !slices.Equal(got, []int{80, 90}) {
		t.Errorf("embedded PTX architectures %v, want [80 90]", got)
	}
	idx := ptxIndex()
	for _, m := range []string{"elementwise", "reduce", "norm", "softmax", "embedding", "loss", "optim", "permute"} {
		if !slices.Equal(idx[m], []int{80, 90}) {
			t.Errorf("module %s embedded for %v", m, idx[m])
		}
	}
	for name, ok := range map[string]bool{"a.sm_80.ptx": true, "a.b.sm_90.ptx": true, "a.ptx": false, ".sm_80.ptx": false, "a.sm_x.ptx": false, "a.sm_80.txt": false} {
		if _, _, got := parsePTXName(name); got != ok {
			t.Errorf("parsePTXName(%q) ok = %v", name, got)
		}
	}
}

func TestCublasCandidates(t *testing.T) {
	got := cublasCandidates(12020, "/opt/blas")
	want := [][2]string{{"libcublasLt.so.12", "libcublas.so.12"}, {"libcublasLt.so.11", "libcublas.so.11"},
		{"/usr/local/cuda/lib64/libcublasLt.so.12", "/usr/local/cuda/lib64/libcublas.so.12"},
		{"/usr/local/cuda/lib64/libcublasLt.so.11", "/usr/local/cuda/lib64/libcublas.so.11"},
		{"/opt/blas/libcublasLt.so.12", "/opt/blas/libcublas.so.12"}, {"/opt/blas/libcublasLt.so.11", "/opt/blas/libcublas.so.11"}}
	if !slices.Equal(got, want) {
		t.Errorf("cublasCandidates(12.2, /opt/blas) =\n%v\nwant\n%v", got, want)
	}
	if got := cublasCandidates(13000, ""); len(got) != 6 || got[0][1] != "libcublas.so.13" {
		t.Errorf("cublasCandidates(13.0) = %v", got)
	}
}

func TestMathOptions(t *testing.T) {
	for _, s := range []string{"fp32", "tf32", "bf16"} {
		m, err := ParseMath(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseMath(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMath("fp16"); err == nil {
		t.Error("ParseMath(fp16) succeeded")
	}
	if MathFP32.cublasCompute() != 0 || MathTF32.cublasCompute() != 77 || MathBF16.cublasCompute() != 75 {
		t.Error("wrong cublasComputeType_t values")
	}
	t.Setenv(EnvTF32, "1")
	t.Setenv(EnvMath, "")
	if o, err := EnvOptions(); err != nil || !o.TF32 || o.Device != -1 {
		t.Errorf("EnvOptions with %s=1: %+v, %v", EnvTF32, o, err)
	}
	t.Setenv(EnvMath, "nope")
	if _, err := EnvOptions(); err == nil {
		t.Errorf("EnvOptions with %s=nope succeeded", EnvMath)
	}
}
