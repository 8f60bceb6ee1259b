package peft

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/compacter-go/compacter/t5"
)

// TestCountPaperTable checks the counts at the t5-base shape against the
// official code's (paper-table-params.json) for every method at both
// vocabularies, and the percentages of the paper's column.
func TestCountPaperTable(t *testing.T) {
	var table struct {
		Denominator int64 `json:"t5_base_denominator"`
		Results     map[string]map[string]struct {
			Total     int64 `json:"total_params"`
			Trainable int64 `json:"trainable_params"`
		} `json:"results"`
	}
	readJSON(t, filepath.Join("..", "testdata", "peft", "paper-table-params.json"), &table)
	paper := map[Method]string{Adapter: "0.832", Pfeiffer: "0.427", AdapterDrop: "0.494", AdapterLowRank: "0.073",
		PromptTuning: "0.034", IntrinsicSAID: "0.009", BitFit: "0.126", PHMAdapter: "0.179", Compacter: "0.073", CompacterPP: "0.047"}
	for _, vocab := range []int{32128, 32100} {
		cfg, err := t5.Preset("t5-base")
		if err != nil {
			t.Fatal(err)
		}
		cfg.VocabSize = vocab
		res := table.Results[fmt.Sprint(vocab)]
		if len(res) != len(Methods) {
			t.Fatalf("vocab %d: %d methods in the table, want %d", vocab, len(res), len(Methods))
		}
		for _, meth := range Methods {
			c, err := Default(meth)
			if err != nil {
				t.Fatal(err)
			}
			tr, tot, err := Count(cfg, c)
			if err != nil {
				t.Fatal(err)
			}
			want := res[string(meth)]
			if tr != want.Trainable || tot != want.Total {
				t.Errorf("vocab %d %s: trainable %d total %d, want %d %d", vocab, meth, tr, tot, want.Trainable, want.Total)
			}
			if p, ok := paper[meth]; ok && vocab == 32100 {
				if got := Percent(tr); got != p {
					t.Errorf("%s: %s%%, paper %s%%", meth, got, p)
				}
			}
		}
	}
}
