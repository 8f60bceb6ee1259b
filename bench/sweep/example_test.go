package sweep_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/compacter-go/compacter/bench/sweep"
	"github.com/compacter-go/compacter/kernels"
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"

	_ "github.com/compacter-go/compacter/cpu" // the cpu backend
)

// A sweep of two methods × two sizes × two seeds on the generated RTE
// fixture, with a tiny T5 of random weights written as a checkpoint (with
// a real model, ModelDir is its folder and the defaults are the paper's).
// Running it again runs nothing: every cell has its result.json.
func ExampleRun() {
	model, err := os.MkdirTemp("", "tiny-t5-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(model)
	be, err := kernels.Open("cpu")
	if err != nil {
		log.Fatal(err)
	}
	mc := t5.DefaultConfig()
	mc.VocabSize, mc.DModel, mc.DKV, mc.DFF, mc.NumHeads, mc.NumLayers, mc.NumDecoderLayers = 2100, 32, 8, 64, 4, 1, 1
	m, err := t5.New(mc, be)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.InitWeights(1); err != nil {
		log.Fatal(err)
	}
	if err := m.Save(model); err != nil {
		log.Fatal(err)
	}
	m.Close()
	be.Close()
	spm, err := os.ReadFile(filepath.Join("..", "..", "testdata", "tokenizer", "spiece.model"))
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(model, "spiece.model"), spm, 0o644); err != nil {
		log.Fatal(err)
	}

	out, err := os.MkdirTemp("", "sweep-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(out)
	one, eight, zero, maxLen, lr := 1, 8, 0, 48, 1e-2
	cfg := sweep.Config{ModelDir: model, Backend: "cpu", DataDir: "testdata", OutDir: out,
		Tasks: []string{"rte"}, Methods: []peft.Method{peft.Adapter, peft.Compacter}, Sizes: []int{8, 16}, Seeds: []uint64{1, 2},
		// The tiny model's width of 32 needs a smaller reduction factor
		// than the paper's 32 (Compacter's bottleneck must divide by n = 4).
		PEFT: func(m peft.Method) (peft.Config, error) {
			c, err := peft.Default(m)
			c.ReductionFactor = 4
			return c, err
		},
		Hyper:       sweep.Overrides{LR: &lr, Epochs: &one, Batch: &eight, Warmup: &zero, MaxLen: &maxLen},
		EvalSamples: 4}
	for range 2 {
		sum, err := sweep.Run(context.Background(), cfg, nil)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d cells: %d run, %d found; %d table rows, complete %v\n",
			len(sum.Plan.Cells), sum.Ran, sum.Skipped, len(sum.Table.Rows), sum.Table.Complete)
	}
	for _, f := range []string{sweep.TableJSON, sweep.TableMarkdown, sweep.TableCSV, sweep.FigureName("rte") + ".svg", sweep.FigureName("rte") + ".png",
		filepath.Join("cells", "rte", "compacter", "n16", "s2", sweep.ResultFile)} {
		_, err := os.Stat(filepath.Join(out, f))
		fmt.Println(filepath.ToSlash(f), err == nil)
	}
	// Output:
	// 8 cells: 8 run, 0 found; 4 table rows, complete true
	// 8 cells: 0 run, 8 found; 4 table rows, complete true
	// table.json true
	// table.md true
	// table.csv true
	// figure-rte.svg true
	// figure-rte.png true
	// cells/rte/compacter/n16/s2/result.json true
}
