package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
)

const forwardHelp = `Usage: compacter forward --model DIR|NAME --batch FILE --out FILE [--grads] [--peft DIR] [--backend NAME]

Run a T5 checkpoint (a Hugging Face directory with config.json and
model.safetensors or pytorch_model.bin, or a model id such as t5-base found
offline in the Hugging Face cache) on a batch (safetensors with input_ids, attention_mask,
decoder_input_ids and/or labels, int64 or int32) and write safetensors with
logits [B,T,V], encoder_last_hidden_state [B,S,D], loss [] (when the batch has
labels) and, with --grads, every parameter's gradient as grad/<hf name>.
Dropout is off. It is how outputs are compared with other implementations.

With --peft DIR a parameter-efficient method is applied first: DIR holds
either our adapter files (adapter_config.json + adapter_model.safetensors) or
a folder laid out like the official Compacter code's output (peft.json +
peft.safetensors). The base is then frozen and --grads writes the gradients of
the trainable tensors only, under the names in DIR.

Flags:
`

func runForward(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("forward", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, forwardHelp)
		fs.PrintDefaults()
	}
	model := fs.String("model", "", "checkpoint directory (config.json + model.safetensors or pytorch_model.bin) or model id in the offline Hugging Face cache")
	batchPath := fs.String("batch", "", "batch safetensors file")
	outPath := fs.String("out", "", "output safetensors file")
	grads := fs.Bool("grads", false, "also write the gradient of the loss for every parameter")
	peftDir := fs.String("peft", "", "apply the method in this directory (ours or the official layout)")
	backend := fs.String("backend", "", "backend name (empty: $COMPACTER_BACKEND or the best available)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("forward: unexpected arguments %q", fs.Args())
	}
	if *model == "" || *batchPath == "" || *outPath == "" {
		return errors.New("forward: --model, --batch and --out are required")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var be kernels.Backend
	var err error
	if *backend == "" {
		be, err = kernels.Default()
	} else {
		be, err = kernels.Open(*backend)
	}
	if err != nil {
		return err
	}
	defer be.Close()
	m, err := t5.Load(*model, be)
	if err != nil {
		return err
	}
	defer m.Close()
	batch, err := t5.LoadBatch(*batchPath)
	if err != nil {
		return err
	}
	if *peftDir != "" {
		a, err := peft.Load(*peftDir, m)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "applied %s: %d of %d parameters trainable\n", a.Config.Method, a.Trainable(), a.Total())
	}
	if !*grads {
		// Inference only: no gradient buffers.
		if err := m.Freeze(func(string) bool { return true }, true); err != nil {
			return err
		}
	}
	out, err := m.Outputs(batch, *grads)
	if err != nil {
		return err
	}
	if err := t5.WriteTensors(*outPath, out, map[string]string{"model": *model, "backend": be.Name()}); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "wrote %d tensors to %s", len(out), *outPath)
	if l, ok := out["loss"]; ok {
		fmt.Fprintf(&b, " (loss %.7g)", l.F32[0])
	}
	fmt.Fprintln(stdout, b.String())
	return nil
}
