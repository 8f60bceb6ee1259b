package cuda_test

import (
	"fmt"
	"log"

	_ "github.com/compacter-go/compacter/cpu"
	"github.com/compacter-go/compacter/cuda"
	"github.com/compacter-go/compacter/kernels"
)

// A program asks the loader what it found and opens the best backend: the
// GPU where one is usable, else the CPU.
func ExampleInspect() {
	r := cuda.Inspect()
	if r.Err != nil {
		fmt.Println("no GPU:", r.Err)
	} else {
		fmt.Printf("driver %d, %v, %s, PTX %s\n", r.DriverVersion, r.Devices[r.Device], r.Cublas, r.PTXArch)
	}
	name, err := kernels.Best()
	if err != nil {
		log.Fatal(err)
	}
	b, err := kernels.Open(name)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	x, _ := b.Alloc(kernels.Float32, 3)
	defer b.Free(x)
	_ = b.Upload(x, []float32{-1, 0, 2})
	_ = b.Act(kernels.ReLU, x, x)
	out := make([]float32, 3)
	if err := b.Download(out, x); err != nil {
		log.Fatal(err)
	}
	fmt.Println(name, out)
}
