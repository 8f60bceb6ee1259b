package t5

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/nlpodyssey/gopickle/types"
)

// ErrUnsafePickle reports a pickle that refers to a global outside the
// allow-list of what torch.save writes for a state dict: loaded by
// torch.load, such a pickle could run code (os.system, builtins.eval, …).
// Errors wrapping it also wrap ErrCheckpoint.
var ErrUnsafePickle = fmt.Errorf("%w: unsafe pickle", ErrCheckpoint)

// maxPickleBytes bounds the size of one pickle (the data.pkl of a zip
// checkpoint, or one of the pickles of a legacy one). A state dict's pickle
// holds names and shapes only, a few hundred bytes per tensor.
const maxPickleBytes = 256 << 20

// maxPickleLine bounds the argument of the text opcodes (GLOBAL, INT, …).
const maxPickleLine = 1 << 16

// pickleArg is how a pickle opcode's argument is encoded.
type pickleArg int

const (
	argNone    pickleArg = iota
	argFixed             // fixed number of bytes (n)
	argLen1              // 1-byte length, then the bytes
	argLen4              // 4-byte unsigned little-endian length, then the bytes
	argLen4S             // 4-byte signed little-endian length, then the bytes
	argLen8              // 8-byte little-endian length, then the bytes
	argLine              // newline-terminated text
	argLine2             // two newline-terminated texts (module, name)
	argString            // the string opcodes' encodings; see stringOps
	argFrame             // FRAME: 8-byte length of the frame that follows
	argLongLen           // LONG1/LONG4: length (1 or 4 bytes), must be > 0
)

type pickleOp struct {
	name string
	arg  pickleArg
	n    int // argFixed: the byte count; argLen*, argLongLen: the size of the length
}

// pickleOps lists the opcodes of pickle protocols 0–5 that the scanner lets
// through to the unpickler, with their argument encodings (as Python's
// pickletools documents them). The extension-registry opcodes (EXT1/2/4)
// and out-of-band buffers (NEXT_BUFFER, READONLY_BUFFER) are not needed by
// torch.save and are refused.
var pickleOps = map[byte]pickleOp{
	'(': {"MARK", argNone, 0}, '.': {"STOP", argNone, 0}, '0': {"POP", argNone, 0},
	'1': {"POP_MARK", argNone, 0}, '2': {"DUP", argNone, 0}, 'F': {"FLOAT", argLine, 0},
	'I': {"INT", argLine, 0}, 'J': {"BININT", argFixed, 4}, 'K': {"BININT1", argFixed, 1},
	'L': {"LONG", argLine, 0}, 'M': {"BININT2", argFixed, 2}, 'N': {"NONE", argNone, 0},
	'P': {"PERSID", argLine, 0}, 'Q': {"BINPERSID", argNone, 0}, 'R': {"REDUCE", argNone, 0},
	'S': {"STRING", argLine, 0}, 'T': {"BINSTRING", argLen4S, 4}, 'U': {"SHORT_BINSTRING", argLen1, 1},
	'V': {"UNICODE", argLine, 0}, 'X': {"BINUNICODE", argString, 4}, 'a': {"APPEND", argNone, 0},
	'b': {"BUILD", argNone, 0}, 'c': {"GLOBAL", argLine2, 0}, 'd': {"DICT", argNone, 0},
	'}': {"EMPTY_DICT", argNone, 0}, 'e': {"APPENDS", argNone, 0}, 'g': {"GET", argLine, 0},
	'h': {"BINGET", argFixed, 1}, 'i': {"INST", argLine2, 0}, 'j': {"LONG_BINGET", argFixed, 4},
	'l': {"LIST", argNone, 0}, ']': {"EMPTY_LIST", argNone, 0}, 'o': {"OBJ", argNone, 0},
	'p': {"PUT", argLine, 0}, 'q': {"BINPUT", argFixed, 1}, 'r': {"LONG_BINPUT", argFixed, 4},
	's': {"SETITEM", argNone, 0}, 't': {"TUPLE", argNone, 0}, ')': {"EMPTY_TUPLE", argNone, 0},
	'u': {"SETITEMS", argNone, 0}, 'G': {"BINFLOAT", argFixed, 8},
	0x80: {"PROTO", argFixed, 1}, 0x81: {"NEWOBJ", argNone, 0}, 0x85: {"TUPLE1", argNone, 0},
	0x86: {"TUPLE2", argNone, 0}, 0x87: {"TUPLE3", argNone, 0}, 0x88: {"NEWTRUE", argNone, 0},
	0x89: {"NEWFALSE", argNone, 0}, 0x8a: {"LONG1", argLongLen, 1}, 0x8b: {"LONG4", argLongLen, 4},
	'B': {"BINBYTES", argLen4, 4}, 'C': {"SHORT_BINBYTES", argLen1, 1},
	0x8c: {"SHORT_BINUNICODE", argString, 1}, 0x8d: {"BINUNICODE8", argString, 8},
	0x8e: {"BINBYTES8", argLen8, 8}, 0x8f: {"EMPTY_SET", argNone, 0}, 0x90: {"ADDITEMS", argNone, 0},
	0x91: {"FROZENSET", argNone, 0}, 0x92: {"NEWOBJ_EX", argNone, 0}, 0x93: {"STACK_GLOBAL", argNone, 0},
	0x94: {"MEMOIZE", argNone, 0}, 0x95: {"FRAME", argFrame, 8}, 0x96: {"BYTEARRAY8", argLen8, 8},
}

// scanPickle walks the opcodes of one pickle from r, which holds at most
// avail bytes, up to and including its STOP, as Python's pickletools.genops
// does, and returns its length in bytes. It is the first line of defence
// before the unpickler runs:
//   - every opcode must be known and allowed (see pickleOps);
//   - every length-prefixed argument must fit in the bytes left, so the
//     unpickler never allocates more than the pickle's size;
//   - LONG1/LONG4 must have a non-empty payload (gopickle indexes it);
//   - PROTO must be at most 5;
//   - every global named in the stream (GLOBAL, INST, and STACK_GLOBAL
//     whose two names were pushed as literal strings just before it) must
//     be in the allow-list; a STACK_GLOBAL whose names come from elsewhere
//     is left to the unpickler's FindClass hook, which applies the same
//     allow-list.
func scanPickle(r io.Reader, avail int64) (int64, error) {
	br := bufio.NewReader(r)
	var pos int64
	need := func(n int64, what string) error {
		if n < 0 || n > avail-pos {
			return fmt.Errorf("%w: pickle %s of %d bytes at offset %d overruns the data (%d bytes left)", ErrCheckpoint, what, n, pos, avail-pos)
		}
		return nil
	}
	read := func(n int) ([]byte, error) {
		if err := need(int64(n), "field"); err != nil {
			return nil, err
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("%w: pickle truncated at offset %d: %v", ErrCheckpoint, pos, err)
		}
		pos += int64(n)
		return b, nil
	}
	skip := func(n int64, what string) error {
		if err := need(n, what); err != nil {
			return err
		}
		if _, err := br.Discard(int(n)); err != nil {
			return fmt.Errorf("%w: pickle truncated at offset %d: %v", ErrCheckpoint, pos, err)
		}
		pos += n
		return nil
	}
	line := func() (string, error) {
		var b []byte
		for {
			if pos >= avail {
				return "", fmt.Errorf("%w: pickle text argument not terminated", ErrCheckpoint)
			}
			c, err := br.ReadByte()
			if err != nil {
				return "", fmt.Errorf("%w: pickle truncated at offset %d: %v", ErrCheckpoint, pos, err)
			}
			pos++
			if c == '\n' {
				return string(b), nil
			}
			if len(b) >= maxPickleLine {
				return "", fmt.Errorf("%w: pickle text argument longer than %d bytes", ErrCheckpoint, maxPickleLine)
			}
			b = append(b, c)
		}
	}
	length := func(size int) (int64, error) {
		b, err := read(size)
		if err != nil {
			return 0, err
		}
		switch size {
		case 1:
			return int64(b[0]), nil
		case 4:
			return int64(binary.LittleEndian.Uint32(b)), nil
		}
		v := binary.LittleEndian.Uint64(b)
		if v > uint64(avail) {
			return -1, nil // reported by need
		}
		return int64(v), nil
	}
	// recent holds the literal strings pushed by the last opcodes (nil for
	// any other push), for STACK_GLOBAL; memo stores leave it unchanged.
	var recent []*string
	push := func(s *string) {
		recent = append(recent, s)
		if len(recent) > 2 {
			recent = recent[1:]
		}
	}
	for {
		start := pos
		code, err := read(1)
		if err != nil {
			return 0, err
		}
		op, ok := pickleOps[code[0]]
		if !ok {
			return 0, fmt.Errorf("%w: pickle opcode 0x%02x at offset %d is unknown or not allowed", ErrCheckpoint, code[0], start)
		}
		keep := false // whether recent survives this opcode
		switch op.arg {
		case argNone:
		case argFixed:
			b, err := read(op.n)
			if err != nil {
				return 0, err
			}
			if op.name == "PROTO" && b[0] > 5 {
				return 0, fmt.Errorf("%w: unsupported pickle protocol %d", ErrCheckpoint, b[0])
			}
			keep = op.name == "BINPUT" || op.name == "LONG_BINPUT"
		case argLen1, argLen4, argLen8:
			n, err := length(op.n)
			if err != nil {
				return 0, err
			}
			if err := skip(n, op.name); err != nil {
				return 0, err
			}
		case argLen4S:
			b, err := read(4)
			if err != nil {
				return 0, err
			}
			if err := skip(int64(int32(binary.LittleEndian.Uint32(b))), op.name); err != nil {
				return 0, err
			}
		case argLongLen:
			n, err := length(op.n)
			if err != nil {
				return 0, err
			}
			if op.n == 4 {
				n = int64(int32(n))
			}
			if n == 0 {
				return 0, fmt.Errorf("%w: pickle %s with an empty payload at offset %d", ErrCheckpoint, op.name, start)
			}
			if err := skip(n, op.name); err != nil {
				return 0, err
			}
		case argString:
			n, err := length(op.n)
			if err != nil {
				return 0, err
			}
			if n <= 256 {
				b, err := read(int(n))
				if err != nil {
					return 0, err
				}
				s := string(b)
				push(&s)
				keep = true
				break
			}
			if err := skip(n, op.name); err != nil {
				return 0, err
			}
		case argFrame:
			n, err := length(8)
			if err != nil {
				return 0, err
			}
			if err := need(n, "frame"); err != nil {
				return 0, err
			}
			keep = true
		case argLine:
			if _, err := line(); err != nil {
				return 0, err
			}
			keep = op.name == "PUT"
		case argLine2:
			module, err := line()
			if err != nil {
				return 0, err
			}
			name, err := line()
			if err != nil {
				return 0, err
			}
			if _, err := allowedGlobal(module, name); err != nil {
				return 0, err
			}
		}
		switch op.name {
		case "MEMOIZE":
			keep = true
		case "STACK_GLOBAL":
			if len(recent) == 2 && recent[0] != nil && recent[1] != nil {
				if _, err := allowedGlobal(*recent[0], *recent[1]); err != nil {
					return 0, err
				}
			}
		case "STOP":
			return pos, nil
		}
		if !keep {
			push(nil)
		}
	}
}

// allowedGlobal returns the Go stand-in of an allowed global, or an error
// wrapping ErrUnsafePickle that names it. The allow-list is what torch.save
// writes for a state dict of tensors: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and
// the torch.*Storage classes (see storageDTypes). None of the stand-ins
// runs code; they only record what the pickle describes.
func allowedGlobal(module, name string) (any, error) {
	full := module + "." + name
	switch full {
	case "collections.OrderedDict":
		return &types.OrderedDictClass{}, nil
	case "torch._utils._rebuild_tensor_v2":
		return rebuildTensorV2{}, nil
	case "torch._utils._rebuild_parameter":
		return rebuildParameter{}, nil
	}
	if st, ok := strings.CutPrefix(full, "torch."); ok {
		if dt, ok := storageDTypes[st]; ok {
			return storageClass{dt}, nil
		}
	}
	return nil, fmt.Errorf("%w: it refers to the global %s, which could run code when loaded with torch.load: refused "+
		"(only what torch.save writes for a state dict of tensors is allowed: collections.OrderedDict, "+
		"torch._utils._rebuild_tensor_v2 and _rebuild_parameter, torch.*Storage)", ErrUnsafePickle, full)
}
