package t5

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"

	"github.com/compacter-go/compacter/cpu" // cpu and purego backends
)

var refCases = []string{"tiny-relu", "tiny-gated"}

func refDir(c string) string { return filepath.Join("..", "testdata", "t5", c) }

func openBackend(t testing.TB, name string) kernels.Backend {
	t.Helper()
	b, err := kernels.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func loadRef(t testing.TB, be kernels.Backend, c string) (*Model, Batch, *TensorFile) {
	t.Helper()
	m, err := Load(refDir(c), be)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	batch, err := LoadBatch(filepath.Join(refDir(c), "batch.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := OpenTensors(filepath.Join(refDir(c), "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exp.Close() })
	return m, batch, exp
}

func TestForwardMatchesReference(t *testing.T) {
	for _, bn := range kerneltest.Backends() {
		for _, c := range refCases {
			t.Run(bn+"/"+c, func(t *testing.T) {
				be := openBackend(t, bn)
				m, batch, exp := loadRef(t, be, c)
				ps, err := m.Forward(batch, false)
				if err != nil {
					t.Fatal(err)
				}
				defer ps.Release()
				wl, err := exp.Float32("logits", []int{batch.B, batch.T, m.Config.VocabSize})
				if err != nil {
					t.Fatal(err)
				}
				dl := kerneltest.CloseTo(t, "logits", kerneltest.Download(t, be, ps.Logits), wl, 1e-5, 1e-4)
				wh, err := exp.Float32("encoder_last_hidden_state", []int{batch.B, batch.S, m.Config.DModel})
				if err != nil {
					t.Fatal(err)
				}
				dh := kerneltest.CloseTo(t, "encoder_last_hidden_state", kerneltest.Download(t, be, ps.EncoderOut), wh, 1e-5, 1e-4)
				wloss, err := exp.Float32("loss", []int{})
				if err != nil {
					t.Fatal(err)
				}
				dloss := math.Abs(ps.Loss - float64(wloss[0]))
				if dloss > 1e-5 {
					t.Errorf("loss = %v, want %v", ps.Loss, wloss[0])
				}
				t.Logf("max |Δ| logits %.2g, encoder %.2g, loss %.2g", dl, dh, dloss)
			})
		}
	}
}

func TestGradientsMatchReference(t *testing.T) {
	for _, bn := range append(kerneltest.Backends(), "cpu-permuted", "cpu-reassoc") {
		for _, c := range refCases {
			t.Run(bn+"/"+c, func(t *testing.T) {
				var be kernels.Backend
				if bn == "cpu-permuted" {
					// The attention path of backends without
					// kernels.InPlaceHeads (the GPU's): heads permuted
					// into [B, H, len, d_kv] copies.
					be = permutedHeads{openBackend(t, "cpu")}
					if kernels.HeadsInPlace(be) {
						t.Fatal("the wrapper still reports InPlaceHeads")
					}
				} else if bn == "cpu-reassoc" {
					// Every cross-attention reassociated (crossattn.go).
					be = openBackend(t, "cpu")
					old := crossReassoc
					crossReassoc = 1
					defer func() { crossReassoc = old }()
				} else {
					be = openBackend(t, bn)
				}
				m, batch, exp := loadRef(t, be, c)
				inUse := be.Mem().InUse
				gradients(t, m, batch)
				if got := be.Mem().InUse; got != inUse {
					t.Errorf("%d bytes in use after Release, want %d", got, inUse)
				}
				worst, worstName := 0.0, ""
				for _, p := range m.Params {
					want, err := exp.Float32("grad/"+p.Name, p.Shape)
					if err != nil {
						t.Fatal(err)
					}
					ref := kerneltest.MaxAbs(want)
					d := kerneltest.CloseTo(t, p.Name, kerneltest.Download(t, be, p.G), want, 1e-4*ref+1e-6, 0)
					if r := d / ref; r > worst {
						worst, worstName = r, p.Name
					}
				}
				t.Logf("%d gradients; worst max|Δ|/max|ref| %.2g (%s)", len(m.Params), worst, worstName)
			})
		}
	}
}

// The reference batches' decoder inputs are their labels shifted right.
func TestShiftRight(t *testing.T) {
	be := openBackend(t, "purego")
	for _, c := range refCases {
		m, batch, _ := loadRef(t, be, c)
		got := ShiftRight(batch.Labels, batch.B, batch.T, int32(m.Config.DecoderStartTokenID), int32(m.Config.PadTokenID))
		for i := range got {
			if got[i] != batch.DecoderInputIDs[i] {
				t.Fatalf("%s: ShiftRight = %v, want %v", c, got, batch.DecoderInputIDs)
			}
		}
	}
}

func TestBatchErrors(t *testing.T) {
	be := openBackend(t, "purego")
	m, batch, _ := loadRef(t, be, "tiny-relu")
	inUse := be.Mem().InUse
	bad := func(edit func(b *Batch)) Batch {
		b := batch
		b.InputIDs = append([]int32(nil), batch.InputIDs...)
		b.Labels = append([]int32(nil), batch.Labels...)
		edit(&b)
		return b
	}
	for name, b := range map[string]Batch{
		"token out of range": bad(func(b *Batch) { b.InputIDs[0] = int32(m.Config.VocabSize) }),
		"negative label":     bad(func(b *Batch) { b.Labels[0] = -5 }),
		"short mask":         bad(func(b *Batch) { b.AttentionMask = b.AttentionMask[:1] }),
		"no decoder input":   bad(func(b *Batch) { b.Labels, b.DecoderInputIDs = nil, nil }),
		"zero size":          bad(func(b *Batch) { b.T = 0 }),
	} {
		if ps, err := m.Forward(b, false); err == nil {
			ps.Release()
			t.Errorf("%s: no error", name)
		}
	}
	if ps, err := m.Forward(bad(func(b *Batch) { b.Labels = nil }), true); err == nil {
		ps.Release()
		t.Error("gradients without labels: no error")
	}
	if got := be.Mem().InUse; got != inUse {
		t.Errorf("%d bytes in use after failed passes, want %d", got, inUse)
	}
}

// Without gradients the activations are freed layer by layer: the peak
// memory of an inference pass stays below that of a training pass, and
// both leave nothing allocated after Release.
func TestInferenceMemory(t *testing.T) {
	be := openBackend(t, "cpu")
	m, batch, _ := loadRef(t, be, "tiny-gated")
	peak := func(grad bool) int64 {
		inUse := be.Mem().InUse
		be.ResetPeak()
		ps, err := m.Forward(batch, grad)
		if err != nil {
			t.Fatal(err)
		}
		p := be.Mem().Peak - inUse
		if err := ps.Release(); err != nil {
			t.Fatal(err)
		}
		if got := be.Mem().InUse; got != inUse {
			t.Errorf("grad %v: %d bytes in use after Release, want %d", grad, got, inUse)
		}
		return p
	}
	infer, train := peak(false), peak(true)
	t.Logf("peak above the weights: inference %d bytes, training forward %d bytes", infer, train)
	if infer >= train*2/3 {
		t.Errorf("inference peak %d not clearly below the training forward's %d", infer, train)
	}
}

// TestUninitNeverRead runs the reference forward and gradient cases with the
// cpu backends poisoning every buffer the model allocates without zeroing
// (kernels.AllocUninit fills them with NaN): a read before a write would
// turn logits, loss or gradients into NaN and fail the tolerances.
func TestUninitNeverRead(t *testing.T) {
	defer cpu.SetPoisonUninit(cpu.SetPoisonUninit(true))
	t.Run("forward", TestForwardMatchesReference)
	t.Run("gradients", TestGradientsMatchReference)
	t.Run("finite-differences", TestFiniteDifferences)
}

// gradients zeroes m's gradients, runs the forward and backward passes of
// batch, releases the pass and returns its loss.
func gradients(t testing.TB, m *Model, batch Batch) float64 {
	t.Helper()
	if err := m.ZeroGrad(); err != nil {
		t.Fatal(err)
	}
	ps, err := m.Forward(batch, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Backward(); err != nil {
		t.Fatal(err)
	}
	if err := ps.Release(); err != nil {
		t.Fatal(err)
	}
	return ps.Loss
}

// permutedHeads hides the optional interfaces of its backend (among them
// kernels.InPlaceHeads), so the model takes the permuted-heads attention
// path.
type permutedHeads struct{ kernels.Backend }
