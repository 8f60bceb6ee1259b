package t5

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/kernels/kerneltest"
)

func TestTrainingMatchesReference(t *testing.T) {
	for _, c := range refCases {
		t.Run(c, func(t *testing.T) {
			be := openBackend(t, "cpu")
			m, batch, _ := loadRef(t, be, c)
			data, err := os.ReadFile(filepath.Join(refDir(c), "train.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Losses []float64 `json:"losses_before_step"`
				Last   float64   `json:"loss_after_last_step"`
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			tr, err := NewTrainer(m, TrainConfig{LR: 1e-3, WeightDecay: 0.01})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			worst := 0.0
			for i, w := range want.Losses {
				r, err := tr.Step([]Batch{batch})
				if err != nil {
					t.Fatal(err)
				}
				d := math.Abs(r.Loss - w)
				worst = max(worst, d)
				if d > 1e-5 {
					t.Errorf("loss before step %d = %.7f, want %.7f", i+1, r.Loss, w)
				}
			}
			ps, err := m.Forward(batch, false)
			if err != nil {
				t.Fatal(err)
			}
			defer ps.Release()
			d := math.Abs(ps.Loss - want.Last)
			worst = max(worst, d)
			if d > 1e-5 {
				t.Errorf("loss after the last step = %.7f, want %.7f", ps.Loss, want.Last)
			}
			t.Logf("6 losses, max |Δ| %.2g", worst)
		})
	}
}

// Accumulating the same batch twice must give the gradient of one batch.
func TestGradientAccumulationAndClipping(t *testing.T) {
	be := openBackend(t, "cpu")
	m, batch, _ := loadRef(t, be, "tiny-relu")
	tr, err := NewTrainer(m, TrainConfig{LR: 0, MaxGradNorm: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	r1, err := tr.Step([]Batch{batch})
	if err != nil {
		t.Fatal(err)
	}
	g1 := kerneltest.Download(t, be, m.shared.G)
	r2, err := tr.Step([]Batch{batch, batch})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r1.Loss-r2.Loss) > 1e-6 || math.Abs(r1.GradNorm-r2.GradNorm) > 1e-5*r1.GradNorm {
		t.Errorf("accumulated step: loss %v norm %v, single: loss %v norm %v", r2.Loss, r2.GradNorm, r1.Loss, r1.GradNorm)
	}
	kerneltest.CloseTo(t, "accumulated gradient", kerneltest.Download(t, be, m.shared.G), g1, 1e-7, 1e-5)

	// Clipping to half the norm halves every gradient.
	tr.cfg.MaxGradNorm = r1.GradNorm / 2
	if _, err := tr.Step([]Batch{batch}); err != nil {
		t.Fatal(err)
	}
	half := make([]float32, len(g1))
	for i, g := range g1 {
		half[i] = g / 2
	}
	kerneltest.CloseTo(t, "clipped gradient", kerneltest.Download(t, be, m.shared.G), half, 1e-7, 1e-5)
	norm, err := tr.GradNorm()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(norm-r1.GradNorm/2) > 1e-4*r1.GradNorm {
		t.Errorf("clipped norm %v, want %v", norm, r1.GradNorm/2)
	}
}

func TestLinearSchedule(t *testing.T) {
	tr := &Trainer{cfg: TrainConfig{LR: 1, WarmupSteps: 2, TotalSteps: 6}}
	want := []float64{0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0}
	for s, w := range want {
		if got := tr.LR(s); math.Abs(got-w) > 1e-12 {
			t.Errorf("LR(%d) = %v, want %v", s, got, w)
		}
	}
}

// Frozen parameters get no buffers and no updates; the trainable ones get
// the same gradients as in the full model, also when the whole encoder is
// frozen and its backward skipped.
func TestFrozenParameters(t *testing.T) {
	for _, trainable := range []string{"decoder.block.1.", "encoder.block.0.layer.1.", "lm_head.", "decoder.block.0.layer.0.SelfAttention.relative", "encoder.final"} {
		t.Run(trainable, func(t *testing.T) { testFrozen(t, trainable) })
	}
}

func testFrozen(t *testing.T, trainable string) {
	be := openBackend(t, "cpu")
	m, batch, exp := loadRef(t, be, "tiny-gated")
	frozen := func(name string) bool { return !strings.HasPrefix(name, trainable) }
	if err := m.Freeze(frozen, true); err != nil {
		t.Fatal(err)
	}
	before := map[string][]float32{}
	for _, p := range m.Params {
		if frozen(p.Name) != p.Frozen() {
			t.Fatalf("%s: Frozen() = %v", p.Name, p.Frozen())
		}
		before[p.Name] = kerneltest.Download(t, be, p.W)
	}
	tr, err := NewTrainer(m, TrainConfig{LR: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Backward([]Batch{batch}); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params {
		if p.Frozen() {
			if p.M != nil || p.V != nil {
				t.Errorf("%s: frozen parameter has optimizer state", p.Name)
			}
			continue
		}
		want, err := exp.Float32("grad/"+p.Name, p.Shape)
		if err != nil {
			t.Fatal(err)
		}
		kerneltest.CloseTo(t, p.Name, kerneltest.Download(t, be, p.G), want, 1e-4*kerneltest.MaxAbs(want)+1e-6, 0)
	}
	// One step with a real LR moves only the trainable parameters.
	tr.cfg.LR = 1e-2
	if _, err := tr.Step([]Batch{batch}); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params {
		after := kerneltest.Download(t, be, p.W)
		same := true
		for i := range after {
			if after[i] != before[p.Name][i] {
				same = false
				break
			}
		}
		if same != p.Frozen() {
			t.Errorf("%s: frozen %v but unchanged %v", p.Name, p.Frozen(), same)
		}
	}
}

// trainRun trains a fresh tiny-gated model (dropout on, warm-up, decay,
// clipping, weight decay, part of it frozen) for steps more optimizer
// steps, after restoring from (weights, st) when weights is not nil, and
// returns its weights and trainer state.
func trainRun(t *testing.T, steps int, weights map[string][]float32, st *TrainState) (map[string][]float32, TrainState) {
	t.Helper()
	be := openBackend(t, "cpu")
	m, batch, _ := loadRef(t, be, "tiny-gated")
	m.Config.DropoutRate = 0.1
	if err := m.Freeze(func(name string) bool { return strings.HasPrefix(name, "encoder.block.0.") }, true); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, TrainConfig{LR: 1e-2, WeightDecay: 0.01, WarmupSteps: 2, TotalSteps: 8, MaxGradNorm: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if weights != nil {
		for _, p := range m.Params {
			if err := be.Upload(p.W, weights[p.Name]); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.SetState(*st); err != nil {
			t.Fatal(err)
		}
	}
	for range steps {
		m.SetTraining(true, uint64(tr.Steps()))
		if _, err := tr.Step([]Batch{batch, batch}); err != nil {
			t.Fatal(err)
		}
	}
	w := map[string][]float32{}
	for _, p := range m.Params {
		w[p.Name] = kerneltest.Download(t, be, p.W)
	}
	out, err := tr.State()
	if err != nil {
		t.Fatal(err)
	}
	return w, out
}

// TestResumeEqualsUninterrupted trains n steps in one go, and k steps then
// n−k more on a fresh model and trainer restored from the weights and
// State, and requires bit-identical weights, moments and step counts.
func TestResumeEqualsUninterrupted(t *testing.T) {
	const n, k = 5, 2
	wantW, wantSt := trainRun(t, n, nil, nil)
	midW, midSt := trainRun(t, k, nil, nil)
	if midSt.Steps != k || len(midSt.Moments) == 0 {
		t.Fatalf("state after %d steps: %d steps, %d moments", k, midSt.Steps, len(midSt.Moments))
	}
	gotW, gotSt := trainRun(t, n-k, midW, &midSt)
	if gotSt.Steps != n || len(gotSt.Moments) != len(wantSt.Moments) {
		t.Fatalf("resumed: %d steps, %d moments; want %d, %d", gotSt.Steps, len(gotSt.Moments), n, len(wantSt.Moments))
	}
	same := func(what string, a, b []float32) {
		t.Helper()
		if len(a) != len(b) {
			t.Fatalf("%s: %d and %d values", what, len(a), len(b))
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s[%d]: %v uninterrupted, %v resumed", what, i, a[i], b[i])
			}
		}
	}
	for name, w := range wantW {
		same(name, w, gotW[name])
	}
	for name, mo := range wantSt.Moments {
		same(name+" M", mo.M, gotSt.Moments[name].M)
		same(name+" V", mo.V, gotSt.Moments[name].V)
	}
	// Without the step count, the schedule and the bias correction
	// differ: the resume must not match.
	zero := midSt
	zero.Steps = 0
	badW, _ := trainRun(t, n-k, midW, &zero)
	diff := false
	for name, w := range wantW {
		diff = diff || !slices.Equal(w, badW[name])
	}
	if !diff {
		t.Error("a resume at step 0 matched the uninterrupted run")
	}
}

// Backward changes no parameter and no step count; Update takes the step
// Step would have taken, once.
func TestBackwardUpdate(t *testing.T) {
	be := openBackend(t, "cpu")
	run := func(split bool) (StepResult, []float32, *Trainer) {
		m, batch, _ := loadRef(t, be, "tiny-relu")
		tr, err := NewTrainer(m, TrainConfig{LR: 1e-2, MaxGradNorm: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		if !split {
			r, err := tr.Step([]Batch{batch})
			if err != nil {
				t.Fatal(err)
			}
			return r, kerneltest.Download(t, be, m.shared.W), tr
		}
		before := kerneltest.Download(t, be, m.shared.W)
		r, err := tr.Backward([]Batch{batch})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(before, kerneltest.Download(t, be, m.shared.W)) || tr.Steps() != 0 || m.shared.M != nil {
			t.Errorf("Backward changed the model or trainer (steps %d)", tr.Steps())
		}
		if err := tr.Update(); err != nil {
			t.Fatal(err)
		}
		if err := tr.Update(); err == nil {
			t.Error("a second Update without Backward succeeded")
		}
		return r, kerneltest.Download(t, be, m.shared.W), tr
	}
	r1, w1, _ := run(false)
	r2, w2, tr := run(true)
	if r1 != r2 || !slices.Equal(w1, w2) || tr.Steps() != 1 {
		t.Errorf("Backward+Update: %+v, steps %d; Step: %+v (same weights %v)", r2, tr.Steps(), r1, slices.Equal(w1, w2))
	}
}

func TestSetStateErrors(t *testing.T) {
	be := openBackend(t, "cpu")
	m, batch, _ := loadRef(t, be, "tiny-relu")
	if err := m.Freeze(func(name string) bool { return name != "shared.weight" }, true); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, TrainConfig{LR: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Step([]Batch{batch}); err != nil {
		t.Fatal(err)
	}
	st, err := tr.State()
	if err != nil || st.Steps != 1 || len(st.Moments) != 1 {
		t.Fatalf("State: %d steps, %d moments, %v", st.Steps, len(st.Moments), err)
	}
	n := m.shared.Len()
	for name, bad := range map[string]TrainState{
		"negative steps": {Steps: -1},
		"missing":        {Steps: 1},
		"frozen":         {Steps: 1, Moments: map[string]Moments{"shared.weight": st.Moments["shared.weight"], "encoder.final_layer_norm.weight": {M: make([]float32, n), V: make([]float32, n)}}},
		"short":          {Steps: 1, Moments: map[string]Moments{"shared.weight": {M: make([]float32, n-1), V: make([]float32, n)}}},
	} {
		if err := tr.SetState(bad); err == nil {
			t.Errorf("%s: SetState accepted %d steps, %d moments", name, bad.Steps, len(bad.Moments))
		}
	}
	if tr.Steps() != 1 {
		t.Errorf("a failed SetState changed the step count to %d", tr.Steps())
	}
	// A state of 0 steps resets the moments to zero.
	if err := tr.SetState(TrainState{}); err != nil {
		t.Fatal(err)
	}
	if got := kerneltest.Download(t, be, m.shared.M); slices.Max(got) != 0 || slices.Min(got) != 0 || tr.Steps() != 0 {
		t.Errorf("moments after a reset: [%v, %v], steps %d", slices.Min(got), slices.Max(got), tr.Steps())
	}
}

// TestUnfrozenAfterForward: the forward keeps the inputs of linear layers
// only where a trainable weight's gradient needs them, so a weight made
// trainable between the forward and the backward gets a clear error, not a
// wrong gradient (the attention output's input, the context); the products
// that read a sub-layer's normed input (wi, q, k, v) recompute it in the
// backward, so theirs get the reference gradient.
func TestUnfrozenAfterForward(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{{"SelfAttention.o", false}, {"DenseReluDense.wi", true}, {"SelfAttention.q", true}} {
		t.Run(c.name, func(t *testing.T) {
			be := openBackend(t, "cpu")
			m, batch, exp := loadRef(t, be, "tiny-relu")
			if err := m.Freeze(func(string) bool { return true }, true); err != nil {
				t.Fatal(err)
			}
			ps, err := m.Forward(batch, true)
			if err != nil {
				t.Fatal(err)
			}
			defer ps.Release()
			if err := m.Freeze(func(name string) bool { return strings.Contains(name, c.name) }, false); err != nil {
				t.Fatal(err)
			}
			if err := m.ZeroGrad(); err != nil {
				t.Fatal(err)
			}
			err = ps.Backward()
			if !c.ok {
				if err == nil || !strings.Contains(err.Error(), "made trainable after the forward") {
					t.Fatalf("Backward = %v, want the made-trainable error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, p := range m.Params {
				if p.G == nil {
					continue
				}
				want, err := exp.Float32("grad/"+p.Name, p.Shape)
				if err != nil {
					t.Fatal(err)
				}
				kerneltest.CloseTo(t, p.Name, kerneltest.Download(t, be, p.G), want, 1e-4*kerneltest.MaxAbs(want)+1e-6, 0)
				n++
			}
			if n == 0 {
				t.Fatalf("no parameter matches %q", c.name)
			}
		})
	}
}

// The fused Step (one batch, no clipping: each block updated as soon as
// its backward is done, gradients discarded) takes exactly the steps of
// Backward then Update, with dropout, weight decay, a schedule and part of
// the model frozen, and leaves the gradients reading zero.
func TestFusedStepMatchesSeparate(t *testing.T) {
	for _, c := range refCases {
		for _, frozen := range []string{"", "encoder.block.0.", "decoder."} {
			t.Run(c+"/frozen="+frozen, func(t *testing.T) {
				cfg := TrainConfig{LR: 1e-2, WeightDecay: 0.01, WarmupSteps: 1, TotalSteps: 6}
				run := func(separate bool) (*Model, []StepResult) {
					be := openBackend(t, "cpu")
					m, batch, _ := loadRef(t, be, c)
					if frozen != "" {
						if err := m.Freeze(func(n string) bool { return strings.HasPrefix(n, frozen) }, true); err != nil {
							t.Fatal(err)
						}
					}
					m.SetTraining(true, 7)
					cfg.SeparateUpdate = separate
					tr, err := NewTrainer(m, cfg)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { tr.Close() })
					var res []StepResult
					for range 3 {
						r, err := tr.Step([]Batch{batch})
						if err != nil {
							t.Fatal(err)
						}
						res = append(res, r)
					}
					if tr.Steps() != 3 {
						t.Fatalf("Steps() = %d, want 3", tr.Steps())
					}
					return m, res
				}
				ms, rs := run(true)
				mf, rf := run(false)
				for i := range rs {
					if rs[i].Loss != rf[i].Loss || rs[i].LR != rf[i].LR {
						t.Errorf("step %d: fused loss %v LR %v, separate %v %v", i+1, rf[i].Loss, rf[i].LR, rs[i].Loss, rs[i].LR)
					}
					if d := math.Abs(rs[i].GradNorm - rf[i].GradNorm); !(d <= 1e-6*rs[i].GradNorm) {
						t.Errorf("step %d: fused gradient norm %v, separate %v", i+1, rf[i].GradNorm, rs[i].GradNorm)
					}
				}
				for j, p := range ms.Params {
					q := mf.Params[j]
					for _, pair := range [][2]kernels.Buffer{{p.W, q.W}, {p.M, q.M}, {p.V, q.V}} {
						if pair[0] == nil || pair[1] == nil {
							if (pair[0] == nil) != (pair[1] == nil) {
								t.Fatalf("%s: optimizer state in one run only", p.Name)
							}
							continue
						}
						a, b := kerneltest.Download(t, ms.Backend, pair[0]), kerneltest.Download(t, mf.Backend, pair[1])
						for i := range a {
							if a[i] != b[i] {
								t.Fatalf("%s[%d]: fused %v, separate %v", p.Name, i, b[i], a[i])
							}
						}
					}
					if q.G != nil && kerneltest.MaxAbs(kerneltest.Download(t, mf.Backend, q.G)) != 0 {
						t.Errorf("%s: gradient not zero after a fused Step", q.Name)
					}
				}
			})
		}
	}
}

// A fused Step of full fine-tuning never holds every gradient at once: its
// backend peak is below that of Backward then Update by most of the
// gradients' bytes.
func TestFusedStepPeakMemory(t *testing.T) {
	cfg, err := Preset("t5-small")
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize, cfg.DModel, cfg.DFF, cfg.NumHeads, cfg.DKV, cfg.NumLayers, cfg.NumDecoderLayers = 512, 128, 512, 2, 64, 4, 4
	peak := func(separate bool) (peak, grads int64) {
		peak, _, m, _ := thirdStepPeak(t, cfg, TrainConfig{LR: 1e-3, SeparateUpdate: separate}, benchBatch(cfg, 2, 16, 8))
		for _, p := range m.Params {
			grads += 4 * int64(p.Len())
		}
		return peak, grads
	}
	sep, grads := peak(true)
	fused, _ := peak(false)
	t.Logf("backend peak: separate %d KiB, fused %d KiB (gradients %d KiB)", sep>>10, fused>>10, grads>>10)
	if fused > sep-grads/2 {
		t.Errorf("fused peak %d bytes, want at most %d (separate %d less half the gradients' %d)", fused, sep-grads/2, sep, grads)
	}
}

// thirdStepPeak trains a fresh model of cfg (weights seeded 1, cpu
// backend, closed when t ends) two steps on batch, so that the moments
// exist, and returns the backend's peak over a third step, that step's
// result, the model and its backend.
func thirdStepPeak(t *testing.T, cfg Config, tc TrainConfig, batch Batch) (int64, StepResult, *Model, kernels.Backend) {
	t.Helper()
	be := openBackend(t, "cpu")
	m, err := New(cfg, be)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.InitWeights(1); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	for range 2 {
		if _, err := tr.Step([]Batch{batch}); err != nil {
			t.Fatal(err)
		}
		be.ResetPeak()
	}
	res, err := tr.Step([]Batch{batch})
	if err != nil {
		t.Fatal(err)
	}
	return be.Mem().Peak, res, m, be
}

// TestFusedStepDropsActivations: the fused step drops each block's
// activations once its backward is done and sums the shared embedding's
// gradient after the blocks, so that gradient (the largest one) never
// coexists with the activations: the step's peak is lower by about its
// bytes than with the activations kept to the end, and the step is the
// same bits.
func TestFusedStepDropsActivations(t *testing.T) {
	cfg, err := Preset("t5-small")
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize, cfg.DModel, cfg.DFF, cfg.NumHeads, cfg.DKV, cfg.NumLayers, cfg.NumDecoderLayers = 8192, 128, 512, 2, 64, 4, 4
	embBytes := int64(4 * cfg.VocabSize * cfg.DModel)
	defer func(old bool) { chunkEmbedding = old }(chunkEmbedding)
	chunkEmbedding = false // the whole gradient, after the blocks
	run := func(drop bool) (peak int64, loss float64, w []float32) {
		defer func(old bool) { dropBlocks = old }(dropBlocks)
		dropBlocks = drop
		peak, res, m, be := thirdStepPeak(t, cfg, TrainConfig{LR: 1e-3}, benchBatch(cfg, 4, 32, 8))
		return peak, res.Loss, kerneltest.Download(t, be, m.shared.W)
	}
	kept, lossKept, wKept := run(false)
	dropped, lossDropped, wDropped := run(true)
	t.Logf("backend peak: activations kept %d KiB, dropped %d KiB (embedding gradient %d KiB)", kept>>10, dropped>>10, embBytes>>10)
	if dropped > kept-embBytes/2 {
		t.Errorf("peak %d bytes with the activations dropped, want at most %d (kept %d less half the embedding gradient's %d)", dropped, kept-embBytes/2, kept, embBytes)
	}
	if lossKept != lossDropped || !slices.Equal(wKept, wDropped) {
		t.Errorf("dropping the activations changed the step: loss %v vs %v", lossKept, lossDropped)
	}
}

// TestFusedStepChunksEmbedding: the fused step sums the tied shared
// embedding's gradient a chunk of vocabulary rows at a time and updates
// each chunk at once, so the whole gradient never exists: the step's peak
// is lower by about the gradient's bytes than when it is summed whole, and
// every parameter comes out the same bits (chunks of 300 rows, the last
// one partial).
func TestFusedStepChunksEmbedding(t *testing.T) {
	cfg, err := Preset("t5-small")
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize, cfg.DModel, cfg.DFF, cfg.NumHeads, cfg.DKV, cfg.NumLayers, cfg.NumDecoderLayers = 32768, 64, 256, 2, 32, 2, 2
	embBytes := int64(4 * cfg.VocabSize * cfg.DModel)
	defer func(old int) { embedChunkBytes = old }(embedChunkBytes)
	embedChunkBytes = 300 * 4 * cfg.DModel
	run := func(chunk bool) (peak int64, res StepResult, w [][]float32) {
		defer func(old bool) { chunkEmbedding = old }(chunkEmbedding)
		chunkEmbedding = chunk
		peak, res, m, be := thirdStepPeak(t, cfg, TrainConfig{LR: 1e-3}, benchBatch(cfg, 2, 16, 8))
		for _, p := range m.Params {
			w = append(w, kerneltest.Download(t, be, p.W))
		}
		return peak, res, w
	}
	whole, resWhole, wWhole := run(false)
	chunked, resChunked, wChunked := run(true)
	t.Logf("backend peak: gradient whole %d KiB, in chunks %d KiB (embedding gradient %d KiB); grad norm %v vs %v", whole>>10, chunked>>10, embBytes>>10, resWhole.GradNorm, resChunked.GradNorm)
	if chunked > whole-embBytes/2 {
		t.Errorf("peak %d bytes with the embedding gradient in chunks, want at most %d (whole %d less half the gradient's %d)", chunked, whole-embBytes/2, whole, embBytes)
	}
	if resWhole.Loss != resChunked.Loss {
		t.Errorf("loss %v in chunks, %v whole", resChunked.Loss, resWhole.Loss)
	}
	for i := range wWhole {
		if !slices.Equal(wWhole[i], wChunked[i]) {
			t.Errorf("parameter %d differs with the embedding gradient in chunks", i)
		}
	}
	// The norm is summed in another order: equal to rounding.
	if d := math.Abs(resWhole.GradNorm-resChunked.GradNorm) / resWhole.GradNorm; d > 1e-5 {
		t.Errorf("grad norm %v in chunks, %v whole (relative %g, want ≤ 1e-5)", resChunked.GradNorm, resWhole.GradNorm, d)
	}
}
