package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compacter-go/compacter/peft"
)

// sampleTable is a fixed table: full fine-tuning, Compacter with a note,
// and a row without a final loss.
func sampleTable() *Table {
	t := &Table{Shape: "t5-small", BaseParams: 60506624, Backend: "cpu", Batch: 4, Seq: 64, Steps: 3,
		EpochExamples: 1000, Seed: 1, ScoreName: "final loss", Elapsed: 70 * time.Second,
		Rows: []Row{
			{Method: peft.FullFinetune, Name: "Full fine-tuning", Trainable: 60506624, Total: 60506624, Percent: 100,
				PeakBytes: 1157627904, MemoryMiB: 1104, SecPerStep: 1.432, ExamplesPerSec: 2.79, EpochSeconds: 358, Losses: []float64{11, 10.98, 10.97},
				FinalLoss: 10.975, Score: math.NaN()},
			{Method: peft.Compacter, Name: "Compacter", Trainable: 54464, Total: 60561088, Percent: 0.09,
				PeakBytes: 445906944, MemoryMiB: 425.25, SecPerStep: 0.867, EpochSeconds: 216.75, Losses: []float64{11, 10.9},
				FinalLoss: 10.9, Score: math.NaN(), Note: "phm_dim 4 → 2 | test"},
			{Method: peft.BitFit, Name: "BitFit", Trainable: 115072, Total: 60621696, Percent: 0.19,
				PeakBytes: 433061888, MemoryMiB: 413, SecPerStep: 1.2, EpochSeconds: 300, Losses: []float64{11, math.NaN()},
				FinalLoss: math.NaN(), Score: math.NaN()},
		}}
	t.fillDeltas()
	return t
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := sampleTable().Write(&b, "text"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"t5-small (60,506,624 params, random weights), backend cpu, batch 4 × 64 tokens, 3 timed steps",
		"not comparable to the paper", "trained params", "Δ memory", "final loss", "60,506,624", "−61.5%", "−39.5%",
		"10.9000", "NaN", "Compacter: phm_dim 4 → 2 | test", "wall time 1m10s"} {
		if !strings.Contains(out, want) {
			t.Errorf("text table lacks %q:\n%s", want, out)
		}
	}
	// Aligned: the header and the rows end in the same column.
	lines := strings.Split(out, "\n")
	var width []int
	for _, l := range lines {
		if strings.Contains(l, "Full fine-tuning") || strings.Contains(l, "Compacter  ") || strings.Contains(l, "trained params") {
			width = append(width, len([]rune(strings.TrimRight(l, " "))))
		}
	}
	if len(width) != 3 || width[0] != width[1] || width[1] != width[2] {
		t.Errorf("columns not aligned (line widths %v):\n%s", width, out)
	}
	if err := sampleTable().Write(&b, "xml"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := sampleTable().Write(&b, "markdown"); err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "|") {
			cells := strings.Split(strings.ReplaceAll(strings.Trim(l, "|"), `\|`, "¦"), "|")
			rows = append(rows, cells)
		}
	}
	if len(rows) != 5 || rows[1][0] != "---" {
		t.Fatalf("markdown table:\n%s", b.String())
	}
	for i, r := range rows {
		if len(r) != 10 {
			t.Errorf("row %d has %d cells: %q", i, len(r), r)
		}
	}
	if strings.TrimSpace(rows[3][0]) != "Compacter" || strings.TrimSpace(rows[3][4]) != "−61.5%" || strings.TrimSpace(rows[2][4]) != "–" {
		t.Errorf("markdown rows %q", rows)
	}
}

func TestWriteJSON(t *testing.T) {
	in := sampleTable()
	var b bytes.Buffer
	if err := in.Write(&b, "json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"memory_delta_pct": null`) || !strings.Contains(b.String(), `"final_loss": null`) {
		t.Errorf("absent values are not null:\n%s", b.String())
	}
	out, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Shape != in.Shape || out.BaseParams != in.BaseParams || out.Steps != in.Steps || out.Elapsed != in.Elapsed ||
		out.ScoreName != in.ScoreName || len(out.Rows) != len(in.Rows) {
		t.Fatalf("round trip: %+v", out)
	}
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	for i, r := range out.Rows {
		w := in.Rows[i]
		if r.Method != w.Method || r.Name != w.Name || r.Trainable != w.Trainable || r.Total != w.Total ||
			r.PeakBytes != w.PeakBytes || r.Note != w.Note || !same(r.Percent, w.Percent) || !same(r.MemoryMiB, w.MemoryMiB) ||
			!same(r.MemoryDelta, w.MemoryDelta) || !same(r.TimeDelta, w.TimeDelta) || !same(r.SecPerStep, w.SecPerStep) ||
			!same(r.EpochSeconds, w.EpochSeconds) || !same(r.FinalLoss, w.FinalLoss) || !same(r.Score, w.Score) ||
			len(r.Losses) != len(w.Losses) {
			t.Errorf("row %d: %+v, want %+v", i, r, w)
		}
		for j := range r.Losses {
			if !same(r.Losses[j], w.Losses[j]) {
				t.Errorf("row %d loss %d: %v, want %v", i, j, r.Losses[j], w.Losses[j])
			}
		}
	}
	for _, bad := range []string{"", "{", `{"shape": "x"}`, `{"batch":1,"steps":1,"epoch_examples":1,"score_name":"l","extra":1}`} {
		if _, err := ReadJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadJSON(%q) accepted", bad)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	in := sampleTable()
	var b bytes.Buffer
	if err := in.Write(&b, "csv"); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || strings.Join(recs[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("csv: %q", recs)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for i, rec := range recs[1:] {
		w := in.Rows[i]
		if rec[col["method"]] != string(w.Method) || rec[col["note"]] != w.Note {
			t.Errorf("row %d: %q", i, rec)
		}
		if n, err := strconv.ParseInt(rec[col["trainable"]], 10, 64); err != nil || n != w.Trainable {
			t.Errorf("row %d trainable %q", i, rec[col["trainable"]])
		}
		for name, want := range map[string]float64{"memory_mib": w.MemoryMiB, "memory_delta_pct": w.MemoryDelta,
			"epoch_s": w.EpochSeconds, "final_loss": w.FinalLoss, "score": w.Score} {
			cell := rec[col[name]]
			if math.IsNaN(want) {
				if cell != "" {
					t.Errorf("row %d %s: %q, want empty", i, name, cell)
				}
				continue
			}
			if got, err := strconv.ParseFloat(cell, 64); err != nil || got != want {
				t.Errorf("row %d %s: %q, want %v", i, name, cell, want)
			}
		}
	}
}

func TestPlot(t *testing.T) {
	tb := sampleTable()
	tb.Rows[2].FinalLoss = 10.95
	prefix := filepath.Join(t.TempDir(), "tradeoff")
	paths, err := tb.SavePlot(prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || paths[0] != prefix+".svg" || paths[1] != prefix+".png" {
		t.Fatalf("paths %v", paths)
	}
	f, err := os.Open(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 200 || b.Dy() < 100 {
		t.Errorf("PNG is %v", b)
	}
	svg, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	root := ""
	for {
		tok, err := dec.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("SVG root element %q", root)
	}
	for _, want := range []string{"Compacter", "BitFit", "Full fine-tuning", "final loss"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	// No plottable point, no rows, no prefix.
	tb.Rows[2].FinalLoss = math.NaN()
	if _, err := tb.Plot(); err == nil {
		t.Error("NaN point plotted")
	}
	if _, err := (&Table{}).Plot(); err == nil {
		t.Error("empty table plotted")
	}
	if _, err := sampleTable().SavePlot(""); err == nil {
		t.Error("empty prefix accepted")
	}
	tb.Rows[2].FinalLoss = 10.95
	if _, err := tb.SavePlot(filepath.Join(t.TempDir(), "missing", "dir", "p")); err == nil {
		t.Error("unwritable path accepted")
	}
}
