package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
)

const paramsHelp = `Usage: compacter params [--model NAME|DIR] [--vocab N] [--peft FILE] [--format table|json]

Prints the trained-parameters column of the Compacter paper's table: for every
method with the paper's settings, the trainable and total parameter counts on
the model, as the official code counts them, and the trainable share as a
percentage of the paper's denominator (222,882,048: t5-base at vocabulary
32100). --model is a preset (t5-small, t5-base, t5-large, t5-v1_1-small,
t5-v1_1-base) or a directory with a config.json. --peft counts one method
configuration instead of the paper's rows: our adapter_config.json or the
official code's peft.json (e.g. with factorized_phm_rule or shared_W_phm).
Nothing is allocated.

Flags:
`

// paramsRow is one method's counts; with --format json each is printed as a
// JSON object per line.
type paramsRow struct {
	Method    string `json:"method"`
	Trainable int64  `json:"trainable"`
	Total     int64  `json:"total"`
	Percent   string `json:"percent_of_paper_denominator"`
}

func runParams(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("params", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, paramsHelp)
		fs.PrintDefaults()
	}
	model := fs.String("model", "t5-base", "preset name or checkpoint directory")
	vocab := fs.Int("vocab", 0, "override the vocabulary size (the paper's runs resize t5-base to 32100)")
	format := fs.String("format", "table", "output: table or json")
	peftFile := fs.String("peft", "", "count this method configuration (adapter_config.json or the official peft.json) instead of the paper's rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("params: unexpected arguments %q", fs.Args())
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("params: --format %q: want table or json", *format)
	}
	cfg, err := modelConfig(*model)
	if err != nil {
		return err
	}
	if *vocab < 0 {
		return fmt.Errorf("params: --vocab %d must be positive", *vocab)
	}
	if *vocab > 0 {
		cfg.VocabSize = *vocab
	}
	configs, err := paramsConfigs(*peftFile)
	if err != nil {
		return err
	}
	var rows []paramsRow
	for _, c := range configs {
		m := c.Method
		tr, tot, err := peft.Count(cfg, c)
		if err != nil {
			return fmt.Errorf("params: %s: %w", m, err)
		}
		rows = append(rows, paramsRow{Method: string(m), Trainable: tr, Total: tot, Percent: peft.Percent(tr)})
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "method\ttrainable\ttotal\t% of 222,882,048\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", r.Method, r.Trainable, r.Total, r.Percent)
	}
	return tw.Flush()
}

// paramsConfigs returns the method configurations to count: the paper's
// defaults, or the one in file (ours or the official code's layout).
func paramsConfigs(file string) ([]peft.Config, error) {
	if file == "" {
		var cs []peft.Config
		for _, m := range peft.Methods {
			c, err := peft.Default(m)
			if err != nil {
				return nil, err
			}
			cs = append(cs, c)
		}
		return cs, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	if filepath.Base(file) == peft.ConfigFile {
		var c peft.Config
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("params: %s: %w", file, err)
		}
		return []peft.Config{c}, nil
	}
	c, err := peft.ParseOfficial(data)
	if err != nil {
		return nil, fmt.Errorf("params: %s: %w", file, err)
	}
	return []peft.Config{c}, nil
}

// modelConfig returns a directory's config.json, a preset's configuration, or
// the config.json of a model in the offline Hugging Face cache.
func modelConfig(model string) (t5.Config, error) {
	if st, err := os.Stat(model); err == nil && st.IsDir() {
		return t5.LoadConfig(filepath.Join(model, "config.json"))
	}
	cfg, err := t5.Preset(model)
	if err != nil {
		dir, herr := t5.ResolveModel(model)
		if herr != nil {
			return t5.Config{}, fmt.Errorf("params: %q is neither a checkpoint directory nor a preset (%w) nor a cached model: %w", model, err, herr)
		}
		return t5.LoadConfig(filepath.Join(dir, "config.json"))
	}
	return cfg, nil
}
