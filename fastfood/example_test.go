package fastfood_test

import (
	"fmt"

	"github.com/compacter-go/compacter/fastfood"
)

// Intrinsic-SAID on two weight tensors: train θ_d and λ, merge them into
// the weights, and rebuild the same weights from the seed.
func Example() {
	cfg := fastfood.Config{
		Dim:     64,
		Tensors: []fastfood.Tensor{{Name: "q.weight", Size: 32 * 32}, {Name: "ln.weight", Size: 32}},
		Seed:    2026,
	}
	s, err := fastfood.NewSAID(cfg)
	if err != nil {
		panic(err)
	}
	theta0 := [][]float32{make([]float32, 32*32), make([]float32, 32)}
	weights := [][]float32{make([]float32, 32*32), make([]float32, 32)}

	// One step of gradient descent on ℓ = Σ θ (the gradient of every weight
	// is 1).
	grad := [][]float32{make([]float32, 32*32), make([]float32, 32)}
	for _, g := range grad {
		for i := range g {
			g[i] = 1
		}
	}
	dTheta, dLambda := make([]float32, len(s.Theta)), make([]float32, len(s.Lambda))
	if err := s.Backward(grad, dTheta, dLambda); err != nil {
		panic(err)
	}
	for i := range s.Theta {
		s.Theta[i] -= 0.1 * dTheta[i]
	}
	if err := s.Apply(weights, theta0); err != nil {
		panic(err)
	}

	// Reload from the seed, the random-state version, θ_d and λ:
	// s.Config() holds the version NewSAID resolved (save it with them).
	r, _ := fastfood.NewSAID(s.Config())
	copy(r.Theta, s.Theta)
	copy(r.Lambda, s.Lambda)
	again := [][]float32{make([]float32, 32*32), make([]float32, 32)}
	if err := r.Apply(again, theta0); err != nil {
		panic(err)
	}
	fmt.Println("θ_d:", len(s.Theta), "λ:", len(s.Lambda), "state bytes:", s.StateBytes(), "state version:", s.Config().State)
	fmt.Println("dλ before the step (θ_d = 0):", dLambda)
	fmt.Println("same weights:", weights[0][7] == again[0][7] && weights[1][3] == again[1][3])
	// Output:
	// θ_d: 61 λ: 2 state bytes: 0 state version: v2
	// dλ before the step (θ_d = 0): [0 0]
	// same weights: true
}
