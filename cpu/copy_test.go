package cpu

import (
	"testing"

	"github.com/compacter-go/compacter/kernels"
)

// TestCopyLargeAndOverlapping checks Copy above the parallel grain, and
// between overlapping views of one buffer (serial memmove semantics).
func TestCopyLargeAndOverlapping(t *testing.T) {
	b := New(Options{Threads: 2})
	const n = 5*elemGrain + 7
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(i)
	}
	x, err := b.Alloc(kernels.Float32, n)
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.Alloc(kernels.Float32, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(x, src); err != nil {
		t.Fatal(err)
	}
	if err := b.Copy(y, x); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, n)
	if err := b.Download(got, y); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != src[i] {
			t.Fatalf("copy: element %d = %v, want %v", i, v, src[i])
		}
	}
	// Shift x up by 1000 elements within itself.
	const s = 1000
	if err := b.Copy(x.Slice(s, n-s), x.Slice(0, n-s)); err != nil {
		t.Fatal(err)
	}
	if err := b.Download(got, x); err != nil {
		t.Fatal(err)
	}
	for i := s; i < n; i++ {
		if got[i] != src[i-s] {
			t.Fatalf("overlapping copy: element %d = %v, want %v", i, got[i], src[i-s])
		}
	}
}
