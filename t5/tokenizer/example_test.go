package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/compacter-go/compacter/t5/tokenizer"
)

// ExampleLoadT5 loads a Hugging Face tokenizer.json (a model directory, a
// spiece.model or a tokenizer.json all work) and encodes a sentence with a
// sentinel: the ids are those of the spiece.model it was converted from.
func ExampleLoadT5() {
	tok, err := tokenizer.LoadT5("../../testdata/tokenizer/tokenizer.json")
	if err != nil {
		log.Fatal(err)
	}
	ids := tok.Encode("it 's a <extra_id_0>")
	fmt.Println(ids, tok.VocabSize())
	text, err := tok.Decode(ids)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", text)
	// Output:
	// [32 25 3 5 2099 1] 2100
	// "it 's a<extra_id_0>"
}
