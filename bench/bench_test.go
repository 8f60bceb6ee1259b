package bench

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	_ "github.com/compacter-go/compacter/cpu" // registers the cpu and purego backends
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
)

// tinyConfig is a T5 small enough for every method to train a step in
// milliseconds: d_model 64 gives a bottleneck of 2 at reduction 32.
func tinyConfig() t5.Config {
	return t5.Config{VocabSize: 128, DModel: 64, DKV: 8, DFF: 64, NumLayers: 2, NumDecoderLayers: 2, NumHeads: 2,
		RelativeAttentionNumBuckets: 8, RelativeAttentionMaxDistance: 16, LayerNormEpsilon: 1e-6, InitializerFactor: 1,
		FeedForwardProj: "relu", TieWordEmbeddings: true, EOSTokenID: 1, DropoutRate: 0.1}
}

func TestRunTiny(t *testing.T) {
	cfg := tinyConfig()
	var events []Event
	opts := Options{Model: cfg, Backend: "cpu", Batch: 2, Seq: 8, Steps: 2, EpochExamples: 10}
	tb, err := Run(context.Background(), opts, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Rows) != len(peft.Methods) {
		t.Fatalf("%d rows, want %d", len(tb.Rows), len(peft.Methods))
	}
	if tb.Shape != "custom" || tb.Backend != "cpu" || tb.BaseParams != cfg.NumParams() || tb.Steps != 2 ||
		tb.ScoreName != "final loss" || tb.Seed != DefaultSeed || tb.Elapsed <= 0 {
		t.Errorf("table header %+v", tb)
	}
	full := tb.Rows[0]
	if full.Method != peft.FullFinetune || full.Trainable != cfg.NumParams() || full.Percent != 100 {
		t.Errorf("full fine-tuning row %+v", full)
	}
	for i, r := range tb.Rows {
		if r.Method != peft.Methods[i] || r.Name != Name(r.Method) {
			t.Errorf("row %d is %s (%s), want %s", i, r.Method, r.Name, peft.Methods[i])
		}
		c, _, err := MethodConfig(cfg, r.Method)
		if err != nil {
			t.Fatal(err)
		}
		tr, tot, err := peft.Count(cfg, c)
		if err != nil {
			t.Fatal(err)
		}
		if r.Trainable != tr || r.Total != tot {
			t.Errorf("%s: trainable/total %d/%d, peft.Count %d/%d", r.Method, r.Trainable, r.Total, tr, tot)
		}
		if want := 100 * float64(tr) / float64(cfg.NumParams()); math.Abs(r.Percent-want) > 1e-9 {
			t.Errorf("%s: percent %v, want %v", r.Method, r.Percent, want)
		}
		if r.PeakBytes <= 0 || r.MemoryMiB != float64(r.PeakBytes)/(1<<20) || !(r.SecPerStep > 0) {
			t.Errorf("%s: memory %d B / %v MiB, %v s/step", r.Method, r.PeakBytes, r.MemoryMiB, r.SecPerStep)
		}
		if want := r.SecPerStep * 10 / 2; math.Abs(r.EpochSeconds-want) > 1e-12*want {
			t.Errorf("%s: epoch %v s, want %v", r.Method, r.EpochSeconds, want)
		}
		if len(r.Losses) != 3 {
			t.Errorf("%s: %d losses, want 3", r.Method, len(r.Losses))
		}
		for _, l := range r.Losses {
			// Near ln(128) = 4.85 from random weights.
			if !(l > 1 && l < 20) {
				t.Errorf("%s: implausible loss %v", r.Method, l)
			}
		}
		if want := (r.Losses[1] + r.Losses[2]) / 2; math.Abs(r.FinalLoss-want) > 1e-12 {
			t.Errorf("%s: final loss %v, want the mean of the timed steps %v", r.Method, r.FinalLoss, want)
		}
		if !math.IsNaN(r.Score) || r.Value() != r.FinalLoss {
			t.Errorf("%s: score %v without a task", r.Method, r.Score)
		}
		if i == 0 {
			if !math.IsNaN(r.MemoryDelta) || !math.IsNaN(r.TimeDelta) {
				t.Errorf("full fine-tuning has Δ %v %v", r.MemoryDelta, r.TimeDelta)
			}
			continue
		}
		if r.Trainable >= full.Trainable || r.PeakBytes > full.PeakBytes && r.Method != peft.PromptTuning {
			// Prompt tuning lengthens the encoder input by 100 positions:
			// at 8 tokens its activations outgrow full fine-tuning's.
			t.Errorf("%s: %d params, %d B peak; full fine-tuning %d, %d B", r.Method, r.Trainable, r.PeakBytes,
				full.Trainable, full.PeakBytes)
		}
		if r.MemoryDelta != Delta(r.MemoryMiB, full.MemoryMiB) || r.TimeDelta != Delta(r.EpochSeconds, full.EpochSeconds) {
			t.Errorf("%s: Δ %v %v", r.Method, r.MemoryDelta, r.TimeDelta)
		}
	}
	// Events: every method sets up, warms up, steps twice and is done, in order.
	var done int
	for i, e := range events {
		if e.Methods != len(peft.Methods) || e.Steps != 2 || e.Index < 1 || e.Method != peft.Methods[e.Index-1] {
			t.Fatalf("event %d: %+v", i, e)
		}
		if i > 0 && (e.Index < events[i-1].Index || e.Elapsed < events[i-1].Elapsed || e.Done < events[i-1].Done) {
			t.Errorf("event %d goes back: %+v after %+v", i, e, events[i-1])
		}
		if e.Phase == "done" {
			done++
			if e.Row == nil || e.Row.Method != e.Method {
				t.Errorf("done event without its row: %+v", e)
			}
		}
	}
	if want := len(peft.Methods) * 5; len(events) != want || done != len(peft.Methods) {
		t.Errorf("%d events (%d done), want %d", len(events), done, want)
	}
	if last := events[len(events)-1]; last.ETA != 0 || last.Done != 1 {
		t.Errorf("last event has ETA %v, done %v", last.ETA, last.Done)
	}
}

// TestRunScore runs a subset with a score function and a custom stream.
func TestRunScore(t *testing.T) {
	cfg := tinyConfig()
	calls := 0
	opts := Options{Model: cfg, Backend: "purego", Batch: 1, Seq: 4, Steps: 1,
		Methods: []peft.Method{peft.Compacter, peft.FullFinetune},
		Data: func(vocab int) (Stream, error) {
			if vocab != cfg.VocabSize {
				t.Errorf("Data got vocab %d", vocab)
			}
			return CopyStream(vocab, 1, 4, 9)
		},
		Score: func(_ context.Context, m *t5.Model) (float64, error) {
			calls++
			if m.Training() {
				t.Error("scored in training mode")
			}
			return 0.5 + float64(calls), nil
		},
		ScoreName: "accuracy"}
	tb, err := Run(context.Background(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tb.ScoreName != "accuracy" || len(tb.Rows) != 2 || tb.Rows[0].Score != 1.5 || tb.Rows[1].Score != 2.5 ||
		tb.Rows[0].Value() != 1.5 {
		t.Fatalf("scores: %+v", tb)
	}
	// Full fine-tuning ran second: the first row gets its Δ afterwards.
	if math.IsNaN(tb.Rows[0].MemoryDelta) || !math.IsNaN(tb.Rows[1].MemoryDelta) || !(tb.Rows[0].MemoryDelta < 0) {
		t.Errorf("Δ memory %v %v", tb.Rows[0].MemoryDelta, tb.Rows[1].MemoryDelta)
	}
	fail := errors.New("no score")
	opts.Score = func(context.Context, *t5.Model) (float64, error) { return 0, fail }
	if _, err := Run(context.Background(), opts, nil); !errors.Is(err, fail) {
		t.Errorf("a failing score gave %v", err)
	}
}

func TestRunCancel(t *testing.T) {
	opts := Options{Model: tinyConfig(), Batch: 1, Seq: 4, Steps: 3}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tb, err := Run(ctx, opts, func(e Event) {
		if e.Index == 2 && e.Phase == "step" && e.Step == 1 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v", err)
	}
	if tb == nil || len(tb.Rows) != 1 || tb.Rows[0].Method != peft.FullFinetune {
		t.Errorf("cancelled run kept %+v", tb)
	}
	if _, err := Run(ctx, opts, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("run with a cancelled context returned %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	bad := map[string]Options{
		"negative batch":    {Batch: -1},
		"negative seq":      {Seq: -2},
		"negative steps":    {Steps: -1},
		"negative epoch":    {EpochExamples: -5},
		"unknown shape":     {Shape: "t5-huge"},
		"unknown method":    {Model: tinyConfig(), Methods: []peft.Method{"lora"}},
		"empty methods":     {Model: tinyConfig(), Methods: []peft.Method{}},
		"duplicate method":  {Model: tinyConfig(), Methods: []peft.Method{peft.BitFit, peft.BitFit}},
		"unknown backend":   {Model: tinyConfig(), Backend: "tpu"},
		"score, no name":    {Model: tinyConfig(), Score: func(context.Context, *t5.Model) (float64, error) { return 0, nil }},
		"name, no score":    {Model: tinyConfig(), ScoreName: "accuracy"},
		"invalid model":     {Model: t5.Config{VocabSize: 8}},
		"no checkpoint":     {ModelDir: t.TempDir()},
		"negative source":   {Model: tinyConfig(), SourceLen: -1},
		"negative target":   {Model: tinyConfig(), TargetLen: -1},
		"negative threads":  {Model: tinyConfig(), Threads: -1},
		"dropout 1":         {Model: tinyConfig(), Dropout: ptr(1.0)},
		"dropout < 0":       {Model: tinyConfig(), Dropout: ptr(-0.1)},
		"max grad norm < 0": {Model: tinyConfig(), MaxGradNorm: ptr(-1.0)},
		"max grad norm NaN": {Model: tinyConfig(), MaxGradNorm: ptr(math.NaN())},
	}
	for name, o := range bad {
		if _, err := Run(context.Background(), o, nil); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: got %v, want ErrOptions", name, err)
		}
	}
	// A stream too small for the model.
	o := Options{Model: tinyConfig(), Methods: []peft.Method{peft.BitFit}, Steps: 1,
		Data: func(int) (Stream, error) { return CopyStream(2, 1, 1, 1) }}
	if _, err := Run(context.Background(), o, nil); !errors.Is(err, ErrOptions) {
		t.Errorf("bad stream: got %v", err)
	}
}

func TestParseMethods(t *testing.T) {
	for _, s := range []string{"", "all"} {
		if m, err := ParseMethods(s); err != nil || !slices.Equal(m, peft.Methods) {
			t.Errorf("%q: %v %v", s, m, err)
		}
	}
	m, err := ParseMethods(" compacter, full-finetune ,bitfit")
	if err != nil || !slices.Equal(m, []peft.Method{peft.Compacter, peft.FullFinetune, peft.BitFit}) {
		t.Errorf("list: %v %v", m, err)
	}
	for _, s := range []string{"compacter,lora", "bitfit,bitfit", ",", "Compacter"} {
		if _, err := ParseMethods(s); !errors.Is(err, ErrOptions) {
			t.Errorf("%q: got %v", s, err)
		}
	}
}

func TestMethodConfig(t *testing.T) {
	small, _ := t5.Preset("t5-small")
	base, _ := t5.Preset("t5-base")
	for _, m := range peft.Methods {
		c, note, err := MethodConfig(base, m)
		d, _ := peft.Default(m)
		if err != nil || note != "" || !equalConfig(c, d) {
			t.Errorf("t5-base %s: adapted (%q, %v): %+v", m, note, err, c)
		}
		if _, _, err := MethodConfig(small, m); err != nil {
			t.Errorf("t5-small %s: %v", m, err)
		}
	}
	c, note, _ := MethodConfig(small, peft.PHMAdapter)
	if c.PHMDim != 8 || note == "" {
		t.Errorf("t5-small PHM-Adapter: n = %d (%q), want 8", c.PHMDim, note)
	}
	c, note, _ = MethodConfig(small, peft.AdapterDrop)
	if !slices.Equal(c.TaskAdapterLayersEncoder, []int{2, 3, 4, 5}) || !slices.Equal(c.TaskAdapterLayersDecoder, []int{2, 3, 4, 5}) || note == "" {
		t.Errorf("t5-small AdapterDrop: %v %v (%q)", c.TaskAdapterLayersEncoder, c.TaskAdapterLayersDecoder, note)
	}
	if c, note, _ := MethodConfig(small, peft.Compacter); c.PHMDim != 4 || note != "" {
		t.Errorf("t5-small Compacter adapted: n = %d (%q)", c.PHMDim, note)
	}
	odd := tinyConfig()
	odd.DModel, odd.VocabSize = 48, 50
	if c, _, err := MethodConfig(odd, peft.Compacter); err != nil || c.ReductionFactor != 24 {
		t.Errorf("d_model 48: reduction %d, %v", c.ReductionFactor, err)
	}
	if c, _, err := MethodConfig(odd, peft.PromptTuning); err != nil || c.PrefixDim != 50 {
		t.Errorf("vocab 50: prompt %d, %v", c.PrefixDim, err)
	}
	if _, _, err := MethodConfig(odd, "lora"); err == nil {
		t.Error("unknown method accepted")
	}
}

// equalConfig compares the fields MethodConfig may change.
func equalConfig(a, b peft.Config) bool {
	return a.ReductionFactor == b.ReductionFactor && a.PHMDim == b.PHMDim && a.PrefixDim == b.PrefixDim &&
		slices.Equal(a.TaskAdapterLayersEncoder, b.TaskAdapterLayersEncoder) &&
		slices.Equal(a.TaskAdapterLayersDecoder, b.TaskAdapterLayersDecoder)
}

func TestDelta(t *testing.T) {
	for _, c := range []struct{ x, ref, want float64 }{{50, 100, -50}, {150, 100, 50}, {100, 100, 0}, {1, 4, -75}} {
		if got := Delta(c.x, c.ref); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Delta(%v, %v) = %v, want %v", c.x, c.ref, got, c.want)
		}
	}
	tb := &Table{Rows: []Row{{Method: peft.Adapter, MemoryMiB: 30, EpochSeconds: 9}, {Method: peft.FullFinetune, MemoryMiB: 60, EpochSeconds: 12}}}
	tb.fillDeltas()
	if a := tb.Rows[0]; a.MemoryDelta != -50 || a.TimeDelta != -25 || !math.IsNaN(tb.Rows[1].MemoryDelta) {
		t.Errorf("deltas %+v", tb.Rows)
	}
	tb.Rows = tb.Rows[:1]
	tb.fillDeltas()
	if !math.IsNaN(tb.Rows[0].MemoryDelta) || !math.IsNaN(tb.Rows[0].TimeDelta) {
		t.Errorf("Δ without full fine-tuning: %+v", tb.Rows[0])
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median %v", m)
	}
}

func TestCopyStream(t *testing.T) {
	s1, err := CopyStream(50, 3, 7, 5)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := CopyStream(50, 3, 7, 5)
	s3, _ := CopyStream(50, 3, 7, 6)
	b1, _ := s1.Next()
	b2, _ := s2.Next()
	b3, _ := s3.Next()
	next, _ := s1.Next()
	if b1.B != 3 || b1.S != 7 || b1.T != 7 || len(b1.InputIDs) != 21 || !slices.Equal(b1.InputIDs, b1.Labels) {
		t.Fatalf("batch %+v", b1)
	}
	if !slices.Equal(b1.InputIDs, b2.InputIDs) || slices.Equal(b1.InputIDs, b3.InputIDs) || slices.Equal(b1.InputIDs, next.InputIDs) {
		t.Error("streams are not determined by their seed, or repeat")
	}
	for _, id := range b1.InputIDs {
		if id < 2 || id >= 50 {
			t.Errorf("id %d outside [2, 50)", id)
		}
	}
	for _, a := range [][3]int{{2, 1, 1}, {10, 0, 1}, {10, 1, 0}} {
		if _, err := CopyStream(a[0], a[1], a[2], 1); !errors.Is(err, ErrOptions) {
			t.Errorf("CopyStream%v: %v", a, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestCopyStreamLen(t *testing.T) {
	s, err := CopyStreamLen(50, 2, 6, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Next()
	if b.B != 2 || b.S != 6 || b.T != 3 || len(b.InputIDs) != 12 || len(b.Labels) != 6 {
		t.Fatalf("batch %+v", b)
	}
	for r := range 2 {
		if !slices.Equal(b.Labels[r*3:r*3+3], b.InputIDs[r*6:r*6+3]) {
			t.Errorf("row %d: target %v is not the first 3 of %v", r, b.Labels[r*3:r*3+3], b.InputIDs[r*6:r*6+6])
		}
	}
	// A target longer than the source repeats it; equal lengths are CopyStream.
	s, _ = CopyStreamLen(50, 1, 2, 5, 5)
	b, _ = s.Next()
	if want := []int32{b.InputIDs[0], b.InputIDs[1], b.InputIDs[0], b.InputIDs[1], b.InputIDs[0]}; !slices.Equal(b.Labels, want) {
		t.Errorf("labels %v, want %v", b.Labels, want)
	}
	c1, _ := CopyStreamLen(50, 3, 7, 7, 9)
	c2, _ := CopyStream(50, 3, 7, 9)
	x1, _ := c1.Next()
	x2, _ := c2.Next()
	if !slices.Equal(x1.InputIDs, x2.InputIDs) || !slices.Equal(x1.Labels, x2.Labels) {
		t.Error("CopyStreamLen(src = tgt) differs from CopyStream")
	}
}

// bitFitRunOptions is a small BitFit run on the tiny model: batch 2 ×
// 12/3 tokens, one thread, dropout 0, steps timed steps.
func bitFitRunOptions(steps int) Options {
	return Options{Model: tinyConfig(), Backend: "cpu", Batch: 2, SourceLen: 12, TargetLen: 3, Steps: steps,
		EpochExamples: 10, Threads: 1, Dropout: ptr(0.0), Methods: []peft.Method{peft.BitFit}}
}

// TestRunLengthsThreadsDropout: the options reach the table and the
// batches, and dropout 0 makes a run repeatable step for step.
func TestRunLengthsThreadsDropout(t *testing.T) {
	opts := bitFitRunOptions(2)
	t1, err := Run(context.Background(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if t1.SourceLen != 12 || t1.TargetLen != 3 || t1.Threads != 1 || t1.Dropout != 0 || t1.Seq != DefaultSeq {
		t.Errorf("table header %+v", t1)
	}
	if r := t1.Rows[0]; !(r.ExamplesPerSec > 0) || math.Abs(r.EpochSeconds-r.SecPerStep*10/2) > 1e-12 {
		t.Errorf("row %+v", r)
	}
	t2, err := Run(context.Background(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(t1.Rows[0].Losses, t2.Rows[0].Losses) {
		t.Errorf("dropout 0: losses %v then %v", t1.Rows[0].Losses, t2.Rows[0].Losses)
	}
	// The default keeps the model's dropout (0.1): the losses differ from
	// dropout 0 after the same batches.
	opts.Dropout = nil
	t3, err := Run(context.Background(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if t3.Dropout != 0.1 || slices.Equal(t1.Rows[0].Losses, t3.Rows[0].Losses) {
		t.Errorf("default dropout %v: losses %v, with 0 %v", t3.Dropout, t3.Rows[0].Losses, t1.Rows[0].Losses)
	}
}

// TestRunMaxGradNorm: the clipping norm reaches the trainer and the table
// (JSON too), default DefaultMaxGradNorm; with a tiny norm the clipped
// steps move the weights less, so the losses differ from no clipping.
func TestRunMaxGradNorm(t *testing.T) {
	opts := bitFitRunOptions(3)
	def, err := Run(context.Background(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if def.MaxGradNorm != DefaultMaxGradNorm {
		t.Errorf("default max grad norm %v, want %v", def.MaxGradNorm, DefaultMaxGradNorm)
	}
	opts.MaxGradNorm = ptr(0.0)
	off, err := Run(context.Background(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxGradNorm = ptr(1e-6)
	tiny, err := Run(context.Background(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if off.MaxGradNorm != 0 || tiny.MaxGradNorm != 1e-6 {
		t.Errorf("table max grad norms %v, %v", off.MaxGradNorm, tiny.MaxGradNorm)
	}
	if slices.Equal(off.Rows[0].Losses, tiny.Rows[0].Losses) {
		t.Errorf("clipping at 1e-6 left the losses as without clipping: %v", off.Rows[0].Losses)
	}
	var buf bytes.Buffer
	if err := off.Write(&buf, "json"); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.MaxGradNorm != 0 {
		t.Errorf("JSON round trip: max grad norm %v, want 0", back.MaxGradNorm)
	}
}
