package tokenizer

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// benchTexts returns the GLUE SST-2 training sentences when the shared GLUE
// copy is present (the file the tokenizer issue benchmarks against
// spm_encode), else the texts of the reference cases.
func benchTexts(b *testing.B) []string {
	var texts []string
	if f, err := os.Open("../../../shared/glue/SST-2/train.tsv"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			if s, _, ok := strings.Cut(sc.Text(), "\t"); ok {
				texts = append(texts, s)
			}
		}
	}
	if len(texts) == 0 {
		for _, c := range loadCases(b) {
			texts = append(texts, c.Text)
		}
	}
	return texts
}

// BenchmarkEncode encodes a corpus into ids; one op is the whole corpus.
func BenchmarkEncode(b *testing.B) {
	m := loadTestModel(b)
	texts := benchTexts(b)
	nbytes := 0
	for _, s := range texts {
		nbytes += len(s)
	}
	var ids []int32
	tokens := 0
	b.SetBytes(int64(nbytes))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tokens = 0
		for _, s := range texts {
			ids = m.AppendEncode(ids[:0], s)
			tokens += len(ids)
		}
	}
	b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(float64(len(texts)), "lines/op")
}

// BenchmarkDecode decodes the ids of the same corpus.
func BenchmarkDecode(b *testing.B) {
	m := loadTestModel(b)
	texts := benchTexts(b)
	all := make([][]int32, len(texts))
	tokens := 0
	for i, s := range texts {
		all[i] = m.Encode(s)
		tokens += len(all[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, ids := range all {
			if _, err := m.Decode(ids); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkParse and BenchmarkParseJSON time loading the same model from
// spiece.model and from the tokenizer.json converted from it.
func BenchmarkParse(b *testing.B) { benchParse(b, testModel, Parse) }

func BenchmarkParseJSON(b *testing.B) { benchParse(b, testJSON, ParseJSON) }

func benchParse(b *testing.B, path string, parse func([]byte) (*Model, error)) {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
