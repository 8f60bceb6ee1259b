package finetune

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/compacter-go/compacter/bench/glue"
	"github.com/compacter-go/compacter/dist"
	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
	"github.com/compacter-go/compacter/t5/tokenizer"
)

// ranks is the data-parallel side of a run: the collective, and the time
// its gradient sums took.
type ranks struct {
	c      dist.Collective
	sum    dist.Summer
	reduce time.Duration // all-reduce time of the current step
	total  time.Duration // of the run
}

func (r *ranks) rank() int { return r.c.Rank() }
func (r *ranks) size() int { return r.c.Size() }

// microSize is the micro-batch of a run on n ranks: at most ceil(batch/n),
// so that every rank has a share of every full batch. One process with
// this micro-batch takes the same steps.
func microSize(h Hyper, n int) int {
	return min(h.MicroBatch, (h.Batch+n-1)/n)
}

// share is rank r's micro-batches of a step among n ranks: every n-th,
// from the r-th.
func share(micro []t5.Batch, r, n int) []t5.Batch {
	var out []t5.Batch
	for i := r; i < len(micro); i += n {
		out = append(out, micro[i])
	}
	return out
}

// reduceFunc sums the gradients and scalars of a step, with stop (this
// rank's request to stop after the step: Ctrl-C) summed as well, into
// *anyStop.
func (r *ranks) reduceFunc(ctx context.Context, stop bool, anyStop *bool) t5.ReduceFunc {
	return func(params []*t5.Param, sc []float32) error {
		t0 := time.Now()
		defer func() { r.reduce = time.Since(t0); r.total += r.reduce }()
		vals := append(append([]float32{}, sc...), 0)
		if stop {
			vals[len(sc)] = 1
		}
		gs := make([]kernels.Buffer, len(params))
		for i, p := range params {
			gs[i] = p.G
		}
		// ctx is not passed on: a Ctrl-C travels as the stop flag, so that
		// every rank leaves after the same step.
		if err := r.sum.Sum(context.WithoutCancel(ctx), gs, vals); err != nil {
			return err
		}
		copy(sc, vals)
		*anyStop = vals[len(sc)] > 0
		return nil
	}
}

// agree makes every rank return an error when any rank's err is not nil
// (rank 0 failing to write a checkpoint, say), and is a barrier: after it,
// what rank 0 wrote before it is complete.
func (r *ranks) agree(ctx context.Context, what string, err error) error {
	flag := []float32{0}
	if err != nil {
		flag[0] = 1
	}
	if rerr := r.c.AllReduceSum(context.WithoutCancel(ctx), flag); rerr != nil {
		return errors.Join(err, rerr)
	}
	if err != nil {
		return err
	}
	if flag[0] > 0 {
		return fmt.Errorf("finetune: %s failed on another rank (see its error)", what)
	}
	return nil
}

// checkSame refuses a job whose ranks differ in settings, data or the
// trainable tensors they start from (the frozen base weights are not
// hashed: their size is).
func (r *ranks) checkSame(ctx context.Context, fp []byte, m *t5.Model, enc []encoded, data *glue.Data, a *peft.Applied) error {
	h := sha256.New()
	var n [4]byte
	for _, e := range enc {
		for _, v := range append(append([]int32{int32(len(e.in))}, e.in...), e.target...) {
			binary.LittleEndian.PutUint32(n[:], uint32(v))
			h.Write(n[:])
		}
		h.Write([]byte{0xff})
	}
	for _, ex := range append(append([]glue.Example{}, data.Validation...), data.Test...) {
		fmt.Fprintf(h, "%q %q\n", ex.Input, ex.Target)
	}
	ts, err := a.Tensors()
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	for _, p := range a.Trainables {
		for _, v := range ts[p.Name].F32 {
			binary.LittleEndian.PutUint32(n[:], math.Float32bits(v))
			h.Write(n[:])
		}
	}
	mc, _ := json.Marshal(m.Config)
	fmt.Fprintf(h, "%s %d", mc, a.Total())
	if err := dist.CheckSame(ctx, r.c, "settings", fp); err != nil {
		return err
	}
	return dist.CheckSame(ctx, r.c, "data, model configuration and starting tensors", h.Sum(nil))
}

// evaluate is Evaluate with the examples split across the ranks (rank r
// generates for the r-th contiguous slice); every rank returns the score
// of all predictions.
func (r *ranks) evaluate(ctx context.Context, m *t5.Model, tok *tokenizer.T5, task *glue.Task, ex []glue.Example, batch, maxLen int) (glue.Result, error) {
	n, k := r.size(), r.rank()
	lo, hi := k*len(ex)/n, (k+1)*len(ex)/n
	pred, err := predict(m, tok, task, ex[lo:hi], batch, maxLen)
	perr := r.agree(ctx, "evaluation", err)
	if perr != nil {
		return glue.Result{}, perr
	}
	all, err := dist.AllGatherBytes(context.WithoutCancel(ctx), r.c, []byte(strings.Join(pred, "\x00")))
	if err != nil {
		return glue.Result{}, err
	}
	var preds []string
	for i, b := range all {
		want := (i+1)*len(ex)/n - i*len(ex)/n
		var p []string
		if want > 0 {
			p = strings.Split(string(b), "\x00")
		}
		if len(p) != want {
			return glue.Result{}, fmt.Errorf("finetune: rank %d returned %d predictions, want %d", i, len(p), want)
		}
		preds = append(preds, p...)
	}
	target := make([]string, len(ex))
	for i, e := range ex {
		target[i] = e.Target
	}
	return task.Evaluate(preds, target)
}
