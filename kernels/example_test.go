package kernels_test

import (
	"fmt"
	"log"

	_ "github.com/compacter-go/compacter/cpu" // registers the "cpu" and "purego" backends
	"github.com/compacter-go/compacter/kernels"
)

// A user opens a backend, allocates buffers on it, uploads the inputs, runs
// an operation and downloads the result: here C = A·B for a 2×3 A and a 3×2
// B.
func ExampleOpen() {
	b, err := kernels.Open("purego") // or kernels.Default(), or "cpu", "cuda"
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	a, _ := b.Alloc(kernels.Float32, 2*3)
	bm, _ := b.Alloc(kernels.Float32, 3*2)
	c, _ := b.Alloc(kernels.Float32, 2*2)
	defer b.Free(a)
	defer b.Free(bm)
	defer b.Free(c)

	if err := b.Upload(a, []float32{1, 2, 3, 4, 5, 6}); err != nil {
		log.Fatal(err)
	}
	if err := b.Upload(bm, []float32{1, 0, 0, 1, 1, 1}); err != nil {
		log.Fatal(err)
	}
	err = b.Gemm(kernels.GemmParams{M: 2, N: 2, K: 3, Alpha: 1, A: a, B: bm, C: c})
	if err != nil {
		log.Fatal(err)
	}
	out := make([]float32, 4)
	if err := b.Download(out, c); err != nil { // waits for the device
		log.Fatal(err)
	}
	fmt.Println(out)
	fmt.Println(b.Mem().InUse, "bytes in use")
	// Output:
	// [4 5 10 11]
	// 64 bytes in use
}
