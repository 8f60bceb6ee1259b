package kron_test

import (
	"fmt"

	"github.com/compacter-go/compacter/kron"
)

func ExampleKron() {
	a := []float32{1, 2, 3, 4} // 2×2
	b := []float32{0, 1, 1, 0} // 2×2
	h, err := kron.Kron(a, 2, 2, b, 2, 2)
	if err != nil {
		panic(err)
	}
	for r := 0; r < 4; r++ {
		fmt.Println(h[r*4 : r*4+4])
	}
	// Output:
	// [0 1 0 2]
	// [1 0 2 0]
	// [0 3 0 4]
	// [3 0 4 0]
}

// A Compacter-style down-projection: In = 8, Out = 4, N = 2 terms, rank 1.
// A[0] is the identity and A[1] swaps the two halves, so
// H = kron(I, S[0]·T[0]) + kron(J, S[1]·T[1]).
func ExampleLayer_Forward() {
	l := kron.Layer{In: 8, Out: 4, N: 2, Rank: 1}
	w := kron.Weights{
		A: []float32{1, 0, 0, 1, 0, 1, 1, 0},
		S: []float32{1, 1, 1, 1, 1, 0, 0, 0}, // [2, 4, 1]
		T: []float32{1, 0, 0, 1},             // [2, 1, 2]
	}
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8} // one row
	y := make([]float32, 4)
	if err := l.Forward(1, x, w, y); err != nil {
		panic(err)
	}
	fmt.Println(y, l.NumParams())
	// Output: [10 5 26 1] 20
}

func ExampleLayer_Backward() {
	l := kron.Layer{In: 4, Out: 2, N: 2}
	w := kron.Weights{A: []float32{1, 0, 0, 1, 0, 0, 0, 0}, W: []float32{1, 2, 0, 0}} // H = kron(I, [1;2])
	x, dy := []float32{1, 1, 1, 1}, []float32{1, 0}
	dx := make([]float32, 4)
	g := kron.Grads{W: make([]float32, 4)}
	if err := l.Backward(1, x, dy, w, dx, g); err != nil {
		panic(err)
	}
	fmt.Println(dx, g.W)
	// Output: [1 2 0 0] [1 1 0 0]
}

// The cost model runs a Compacter adapter (768→24, n = 4, rank 1) fused,
// and a plain PHM layer of a T5 FFN's size through a materialised H, which
// does the dense layer's FLOPs with one well-shaped GEMM.
func ExampleChoose() {
	fmt.Println(kron.Choose(1024, 768, 24, 4, 1))
	fmt.Println(kron.Choose(1024, 3072, 768, 4, 0))
	// Output:
	// fused
	// materialize
}
