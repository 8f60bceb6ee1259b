// Command compacter is the command-line tool of the compacter project:
// parameter-efficient fine-tuning of T5 (Compacter, PHM adapters and the
// baselines of the Compacter paper) on hand-written CPU and GPU kernels.
//
// Usage:
//
//	compacter kernels [flags]   time one kernel (or the default set) on a backend
//	compacter backends          list the compute backends and whether each can run here
//	compacter forward [flags]   run a T5 checkpoint (optionally with a PEFT method) on a batch
//	compacter params [flags]    trained parameters per PEFT method, as in the paper
//	compacter tokenize [flags]  SentencePiece-encode (or decode) lines of stdin as JSON
//	compacter help [command]    show help
//
// Run "compacter kernels -h" for the kernel flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/compacter-go/compacter/kernels"

	_ "github.com/compacter-go/compacter/cpu" // registers the cpu and purego backends
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "compacter:", err)
		}
		os.Exit(2)
	}
}

const usage = `compacter: parameter-efficient fine-tuning of T5 on fast kernels.

Usage:
  compacter kernels [flags]   time kernels (sgemm, phm, lphm, fwht) on a backend
  compacter backends          list compute backends and whether each runs here
  compacter forward [flags]   run a T5 checkpoint on a batch; write logits, loss, gradients
  compacter params [flags]    trained parameters per PEFT method (the paper's table column)
  compacter tokenize [flags]  SentencePiece-encode (or decode) lines of stdin as JSON
  compacter help [command]    show help for a command
`

// run executes the command line args (without the program name).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "kernels":
		return runKernels(ctx, args[1:], stdout, stderr)
	case "tokenize":
		return runTokenize(args[1:], os.Stdin, stdout, stderr)
	case "params":
		return runParams(args[1:], stdout, stderr)
	case "backends":
		return runBackends(args[1:], stdout)
	case "forward":
		return runForward(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "-h"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func runBackends(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("backends takes no arguments, got %q", args)
	}
	best, _ := kernels.Best()
	for _, in := range kernels.Drivers() {
		mark := " "
		if in.Name == best {
			mark = "*"
		}
		status := "available"
		if in.Err != nil {
			status = "unavailable: " + in.Err.Error()
		}
		fmt.Fprintf(stdout, "%s %-8s priority %3d  %s\n", mark, in.Name, in.Priority, status)
	}
	if env := os.Getenv(kernels.EnvBackend); env != "" {
		fmt.Fprintf(stdout, "%s=%s overrides the default\n", kernels.EnvBackend, env)
	}
	return nil
}
