package cpu

import (
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// Huge-page advice leaves contents and lengths alone, for small, unaligned
// and large buffers, and large buffers still come back zeroed.
func TestAdviseHugeKeepsContents(t *testing.T) {
	for _, n := range []int{0, 1, 1<<20 - 3, 1 << 20, 3<<20 + 5} {
		f := make([]float32, n+1)[1:] // not 2 MiB aligned
		for i := range f {
			f[i] = float32(i)
		}
		adviseHuge(f)
		for i, v := range f {
			if v != float32(i) {
				t.Fatalf("n=%d: f[%d] = %v after the advice", n, i, v)
			}
		}
	}
	b := New(Options{Threads: 2})
	x, err := b.Alloc(kernels.Float32, 5<<20)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Float32s(x)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range f {
		if v != 0 {
			t.Fatalf("f[%d] = %v in a new buffer", i, v)
		}
	}
}
