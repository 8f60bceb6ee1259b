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
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"

	"github.com/compacter-go/compacter/kernels"

	_ "github.com/compacter-go/compacter/cpu" // registers the cpu and purego backends
)

// defaultGCPercent is the collector's GOGC unless the environment sets
// one. Nearly all of the heap is tensors ([]float32 with no pointers),
// which the collector does not scan, so collecting at 25 % growth instead
// of Go's 100 % costs little CPU and keeps the process's resident memory
// near the tensors it holds (t5-small Compacter step, batch 8, 128/16: peak
// RSS 896 MiB at GOGC=100, 668 MiB at 25, for 613 MiB of tensors).
const defaultGCPercent = 25

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	stopProfile, err := startProfile(os.Getenv("COMPACTER_CPUPROFILE"))
	if err == nil {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		err = errors.Join(err, stopProfile())
	}
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "compacter:", err)
		}
		os.Exit(2)
	}
}

// startProfile starts a CPU profile of the whole command into file when
// it is not empty (COMPACTER_CPUPROFILE=cpu.prof compacter bench …, then go
// tool pprof cpu.prof) and returns what ends it.
func startProfile(file string) (func() error, error) {
	if file == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("COMPACTER_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("COMPACTER_CPUPROFILE: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// command is one subcommand of the tool.
type command struct {
	// summary is the one-line description in the usage text.
	summary string
	// run executes the command with its arguments (after the command name).
	run func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

// commands maps subcommand names to their implementations. Each command's
// file adds itself in an init function, so commands live in separate files.
var commands = map[string]command{
	"kernels": {"time kernels (sgemm, phm, lphm, fwht) on a backend", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		return runKernels(ctx, args, stdout, stderr)
	}},
	"tokenize": {"SentencePiece-encode (or decode) lines of stdin as JSON", func(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
		return runTokenize(args, stdin, stdout, stderr)
	}},
	"params": {"trained parameters per PEFT method (the paper's table column)", func(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		return runParams(args, stdout, stderr)
	}},
	"backends": {"list compute backends and whether each runs here", func(_ context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
		return runBackends(args, stdout)
	}},
	"forward": {"run a T5 checkpoint on a batch; write logits, loss, gradients", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		return runForward(ctx, args, stdout, stderr)
	}},
}

// usageText lists the commands in name order.
func usageText() string {
	var sb strings.Builder
	sb.WriteString("compacter: parameter-efficient fine-tuning of T5 on fast kernels.\n\nUsage:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&sb, "  compacter %-10s %s\n", n, commands[n].summary)
	}
	sb.WriteString("  compacter help [command]  show help for a command\n")
	return sb.String()
}

// run executes the command line args (without the program name).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runWithInput(ctx, args, os.Stdin, stdout, stderr)
}

// runWithInput is run with an explicit standard input.
func runWithInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText())
		return errors.New("no command given")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return runWithInput(ctx, []string{args[1], "-h"}, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usageText())
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprint(stderr, usageText())
		return fmt.Errorf("unknown command %q", args[0])
	}
	return c.run(ctx, args[1:], stdin, stdout, stderr)
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
