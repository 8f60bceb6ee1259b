package t5_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/t5"
)

// A pytorch_model.bin is read without Python; its half-precision tensors
// widen to float32.
func ExampleOpenPyTorch() {
	f, err := t5.OpenPyTorch(filepath.Join("..", "testdata", "t5", "bin", "f16", "pytorch_model.bin"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	shape, _ := f.Shape("shared.weight")
	dtype, _ := f.DType("shared.weight")
	w, _ := f.Float32("shared.weight", shape)
	fmt.Println(len(f.Names()), "tensors; shared.weight:", dtype, shape, len(w), "float32 values")

	// A pickle that would run code under torch.load is refused.
	_, err = t5.OpenPyTorch(filepath.Join("..", "testdata", "t5", "bin", "malicious", "pytorch_model.bin"))
	fmt.Println(err != nil)
	// Output:
	// 54 tensors; shared.weight: F16 [80 24] 1920 float32 values
	// true
}

// A model id is looked up offline in the Hugging Face cache; Load does the
// same, and so does every --model flag of the compacter command.
func ExampleResolveModel() {
	os.Setenv("HF_HUB_CACHE", filepath.Join(os.TempDir(), "no-such-hub-cache"))
	defer os.Unsetenv("HF_HUB_CACHE")
	if _, err := t5.ResolveModel("google/t5-v1_1-small"); err != nil {
		fmt.Println("not cached")
	}
	be, _ := kernels.Open("purego")
	defer be.Close()
	m, err := t5.Load(filepath.Join("..", "testdata", "t5", "bin", "bf16"), be) // a directory works as before
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	fmt.Println(m.Config.DModel)
	// Output:
	// not cached
	// 24
}
