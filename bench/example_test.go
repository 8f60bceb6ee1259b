package bench_test

import (
	"context"
	"fmt"
	"log"

	"github.com/compacter-go/compacter/bench"
	_ "github.com/compacter-go/compacter/cpu" // registers the cpu backend
	"github.com/compacter-go/compacter/peft"
	"github.com/compacter-go/compacter/t5"
)

// Run measures the chosen methods on a tiny T5 (the default is t5-small;
// Options{Shape: "t5-base"} is the paper's) and prints the table with
// table.Write(os.Stdout, "text"); here, the deterministic columns.
func ExampleRun() {
	tiny := t5.Config{VocabSize: 128, DModel: 64, DKV: 8, DFF: 64, NumLayers: 2, NumDecoderLayers: 2, NumHeads: 2,
		RelativeAttentionNumBuckets: 8, RelativeAttentionMaxDistance: 16, LayerNormEpsilon: 1e-6,
		InitializerFactor: 1, FeedForwardProj: "relu", TieWordEmbeddings: true, EOSTokenID: 1}
	table, err := bench.Run(context.Background(), bench.Options{
		Model:   tiny,
		Methods: []peft.Method{peft.FullFinetune, peft.Adapter, peft.Compacter, peft.CompacterPP},
		Batch:   2, Seq: 8, Steps: 1,
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range table.Rows {
		fmt.Printf("%-16s %6d params %7.3f %%  less memory than full fine-tuning: %v\n",
			r.Name, r.Trainable, r.Percent, r.MemoryDelta < 0)
	}
	// Output:
	// Full fine-tuning  66336 params 100.000 %  less memory than full fine-tuning: false
	// Adapter            3344 params   5.041 %  less memory than full fine-tuning: true
	// Compacter          2360 params   3.558 %  less memory than full fine-tuning: true
	// Compacter++        1568 params   2.364 %  less memory than full fine-tuning: true
}
