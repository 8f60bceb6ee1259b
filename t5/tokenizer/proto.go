package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// errProto reports a malformed ModelProto.
var errProto = errors.New("tokenizer: malformed ModelProto")

// Protobuf wire types used by the ModelProto.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// wireField is one decoded protobuf field: its number, wire type and either
// its scalar value (varint, fixed32, fixed64) or its bytes.
type wireField struct {
	num   int
	typ   int
	val   uint64
	bytes []byte
}

// readVarint decodes a base-128 varint at the start of b.
func readVarint(b []byte) (uint64, int, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, fmt.Errorf("%w: bad varint", errProto)
	}
	return v, n, nil
}

// walkFields calls fn for every top-level field of the message b.
func walkFields(b []byte, fn func(f wireField) error) error {
	for len(b) > 0 {
		key, n, err := readVarint(b)
		if err != nil {
			return err
		}
		b = b[n:]
		f := wireField{num: int(key >> 3), typ: int(key & 7)}
		switch f.typ {
		case wireVarint:
			v, n, err := readVarint(b)
			if err != nil {
				return err
			}
			f.val, b = v, b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return fmt.Errorf("%w: truncated fixed64 field %d", errProto, f.num)
			}
			f.val, b = binary.LittleEndian.Uint64(b), b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return fmt.Errorf("%w: truncated fixed32 field %d", errProto, f.num)
			}
			f.val, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case wireBytes:
			l, n, err := readVarint(b)
			if err != nil {
				return err
			}
			b = b[n:]
			if l > uint64(len(b)) {
				return fmt.Errorf("%w: truncated bytes field %d", errProto, f.num)
			}
			f.bytes, b = b[:l], b[l:]
		default:
			return fmt.Errorf("%w: unsupported wire type %d (field %d)", errProto, f.typ, f.num)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// Piece types of ModelProto.SentencePiece.Type.
const (
	typeNormal      = 1
	typeUnknown     = 2
	typeControl     = 3
	typeUserDefined = 4
	typeUnused      = 5
	typeByte        = 6
)

// protoPiece is one ModelProto.SentencePiece.
type protoPiece struct {
	piece string
	score float32
	typ   int
}

// protoModel holds the parts of a ModelProto the tokenizer uses.
type protoModel struct {
	pieces []protoPiece
	// trainer_spec
	modelType    int
	byteFallback bool
	unkSurface   string
	// normalizer_spec
	charsmap        []byte
	addDummyPrefix  bool
	removeExtraWS   bool
	escapeWS        bool
	treatWSAsSuffix bool
}

// parseModelProto decodes the serialized SentencePiece ModelProto b.
//
// Field numbers follow sentencepiece_model.proto: ModelProto.pieces = 1,
// trainer_spec = 2, normalizer_spec = 3; SentencePiece.piece = 1, score = 2,
// type = 3; TrainerSpec.model_type = 3, treat_whitespace_as_suffix = 24,
// byte_fallback = 35, unk_surface = 44; NormalizerSpec.precompiled_charsmap = 2, add_dummy_prefix = 3,
// remove_extra_whitespaces = 4, escape_whitespaces = 5.
func parseModelProto(b []byte) (*protoModel, error) {
	m := &protoModel{
		modelType:      1, // UNIGRAM
		unkSurface:     " \u2047 ",
		addDummyPrefix: true,
		removeExtraWS:  true,
		escapeWS:       true,
	}
	err := walkFields(b, func(f wireField) error {
		switch {
		case f.num == 1 && f.typ == wireBytes:
			p := protoPiece{typ: typeNormal}
			err := walkFields(f.bytes, func(g wireField) error {
				switch {
				case g.num == 1 && g.typ == wireBytes:
					p.piece = string(g.bytes)
				case g.num == 2 && g.typ == wireFixed32:
					p.score = math.Float32frombits(uint32(g.val))
				case g.num == 3 && g.typ == wireVarint:
					p.typ = int(g.val)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("piece %d: %w", len(m.pieces), err)
			}
			m.pieces = append(m.pieces, p)
		case f.num == 2 && f.typ == wireBytes:
			return walkFields(f.bytes, func(g wireField) error {
				switch {
				case g.num == 3 && g.typ == wireVarint:
					m.modelType = int(g.val)
				case g.num == 24 && g.typ == wireVarint:
					m.treatWSAsSuffix = g.val != 0
				case g.num == 35 && g.typ == wireVarint:
					m.byteFallback = g.val != 0
				case g.num == 44 && g.typ == wireBytes:
					m.unkSurface = string(g.bytes)
				}
				return nil
			})
		case f.num == 3 && f.typ == wireBytes:
			return walkFields(f.bytes, func(g wireField) error {
				switch {
				case g.num == 2 && g.typ == wireBytes:
					m.charsmap = g.bytes
				case g.num == 3 && g.typ == wireVarint:
					m.addDummyPrefix = g.val != 0
				case g.num == 4 && g.typ == wireVarint:
					m.removeExtraWS = g.val != 0
				case g.num == 5 && g.typ == wireVarint:
					m.escapeWS = g.val != 0
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}
