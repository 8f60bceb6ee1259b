package t5

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// InitWeights draws every parameter as the reference code's _init_weights
// (initializer_factor f): shared and lm_head N(0, f²), q N(0, f²/(d_model·d_kv)),
// k and v N(0, f²/d_model), o N(0, f²/(heads·d_kv)), wi N(0, f²/d_model),
// wo N(0, f²/d_ff), relative biases N(0, f²/d_model), layer norms f, from a
// seeded generator.
func (m *Model) InitWeights(seed uint64) error {
	c := m.Config
	f := c.InitializerFactor
	rng := rand.New(rand.NewPCG(seed, 0x7435))
	for _, p := range m.Params {
		std := f
		n := p.Name
		switch {
		case strings.HasSuffix(n, "layer_norm.weight"):
			std = -1
		case strings.HasSuffix(n, ".q.weight"):
			std = f / math.Sqrt(float64(c.DModel*c.DKV))
		case strings.HasSuffix(n, ".k.weight"), strings.HasSuffix(n, ".v.weight"),
			strings.Contains(n, ".wi"), strings.HasSuffix(n, "relative_attention_bias.weight"):
			std = f / math.Sqrt(float64(c.DModel))
		case strings.HasSuffix(n, ".o.weight"):
			std = f / math.Sqrt(float64(c.Inner()))
		case strings.HasSuffix(n, ".wo.weight"):
			std = f / math.Sqrt(float64(c.DFF))
		}
		data := make([]float32, p.Len())
		for i := range data {
			if std < 0 {
				data[i] = float32(f)
			} else {
				data[i] = float32(std * rng.NormFloat64())
			}
		}
		if err := m.Backend.Upload(p.W, data); err != nil {
			return fmt.Errorf("t5: initialising %s: %w", p.Name, err)
		}
	}
	return nil
}
