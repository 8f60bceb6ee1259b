package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/compacter-go/compacter/t5/tokenizer"
)

const tokenizeHelp = `Usage: compacter tokenize --spm PATH [--pieces] [--decode] < input

Reads text lines on standard input and prints one JSON array per line: the
SentencePiece ids of the line (or, with --pieces, its pieces); a line with no
tokens (empty or only spaces) prints []. With --decode it reads one JSON
array of ids per line ([] included) and prints the decoded text as a JSON
string. PATH is a SentencePiece unigram model (spiece.model), a Hugging Face
tokenizer.json of a T5 model, or a model directory holding one of them
(spiece.model is preferred when both are there). No </s> is appended (the T5
extras are in package t5/tokenizer's T5 type).

Flags:
`

func runTokenize(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, tokenizeHelp)
		fs.PrintDefaults()
	}
	spm := fs.String("spm", "", "tokenizer: spiece.model, tokenizer.json or a model `path` holding one")
	fs.StringVar(spm, "tokenizer", "", "the same as --spm")
	pieces := fs.Bool("pieces", false, "print pieces instead of ids")
	decode := fs.Bool("decode", false, "read id arrays and print text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("tokenize: unexpected arguments %q", fs.Args())
	}
	if *spm == "" {
		return errors.New("tokenize: --spm (or --tokenizer) is required")
	}
	if *pieces && *decode {
		return errors.New("tokenize: --pieces and --decode exclude each other")
	}
	m, err := tokenizer.Load(*spm)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for line := 1; sc.Scan(); line++ {
		var v any
		switch {
		case *decode:
			var ids []int32
			if err := json.Unmarshal(sc.Bytes(), &ids); err != nil {
				return fmt.Errorf("tokenize: line %d: want a JSON array of ids: %w", line, err)
			}
			text, err := m.Decode(ids)
			if err != nil {
				return fmt.Errorf("tokenize: line %d: %w", line, err)
			}
			v = text
		case *pieces:
			p := m.EncodePieces(sc.Text())
			if p == nil {
				p = []string{} // [] rather than null
			}
			v = p
		default:
			ids := m.Encode(sc.Text())
			if ids == nil {
				ids = []int32{}
			}
			v = ids
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("tokenize: reading input: %w", err)
	}
	return nil
}
