package t5

import "fmt"

// LoadBatch reads a batch from safetensors with input_ids [B, S],
// attention_mask [B, S] (optional), decoder_input_ids [B, T] (optional when
// labels are given) and labels [B, T] (optional), in int64 or int32.
func LoadBatch(path string) (Batch, error) {
	f, err := OpenTensors(path)
	if err != nil {
		return Batch{}, err
	}
	defer f.Close()
	var b Batch
	shape, err := f.Shape("input_ids")
	if err != nil {
		return b, err
	}
	if len(shape) != 2 {
		return b, fmt.Errorf("%w: %s: input_ids has shape %v, want [B, S]", ErrCheckpoint, path, shape)
	}
	b.B, b.S = shape[0], shape[1]
	if b.InputIDs, err = f.Int32("input_ids", shape); err != nil {
		return b, err
	}
	if f.Has("attention_mask") {
		if b.AttentionMask, err = f.Int32("attention_mask", shape); err != nil {
			return b, err
		}
	}
	tname := "labels"
	if f.Has("decoder_input_ids") {
		tname = "decoder_input_ids"
	}
	ts, err := f.Shape(tname)
	if err != nil {
		return b, err
	}
	if len(ts) != 2 || ts[0] != b.B {
		return b, fmt.Errorf("%w: %s: %s has shape %v, want [%d, T]", ErrCheckpoint, path, tname, ts, b.B)
	}
	b.T = ts[1]
	if f.Has("decoder_input_ids") {
		if b.DecoderInputIDs, err = f.Int32("decoder_input_ids", ts); err != nil {
			return b, err
		}
	}
	if f.Has("labels") {
		if b.Labels, err = f.Int32("labels", ts); err != nil {
			return b, err
		}
	}
	return b, nil
}
