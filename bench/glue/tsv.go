package glue

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// ReadFile reads one of the task's GLUE TSV files into examples. Fields are
// split on tabs only (no quoting). A malformed row is an error wrapping
// ErrData that names the file and line, except for tasks whose official
// loader skips such rows (QQP): those are skipped and counted.
func (t *Task) ReadFile(path string) (ex []Example, skipped int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("glue: %w", err)
	}
	return t.parse(path, data)
}

// parse is ReadFile on the bytes of a file.
func (t *Task) parse(path string, data []byte) ([]Example, int, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil, 0, fmt.Errorf("%w: %s is empty", ErrData, path)
	}
	lines := strings.Split(text, "\n")
	nf := t.columns
	textIdx := make([]int, len(t.text))
	labelIdx := t.label.index
	first := 0
	if t.header {
		head := strings.Split(strings.TrimSuffix(lines[0], "\r"), "\t")
		nf = len(head)
		find := func(name string) (int, error) {
			for i, h := range head {
				if strings.TrimSpace(h) == name {
					return i, nil
				}
			}
			return 0, fmt.Errorf("%w: %s:1: header has no column %q (columns %q)", ErrData, path, name, head)
		}
		for i, c := range t.text {
			j, err := find(c.name)
			if err != nil {
				return nil, 0, err
			}
			textIdx[i] = j
		}
		j, err := find(t.label.name)
		if err != nil {
			return nil, 0, err
		}
		labelIdx = j
		first = 1
	} else {
		for i, c := range t.text {
			textIdx[i] = c.index
		}
	}
	out := make([]Example, 0, len(lines)-first)
	skipped := 0
	fields := make([]string, len(t.text))
	for i := first; i < len(lines); i++ {
		line := strings.TrimSuffix(lines[i], "\r")
		f := strings.Split(line, "\t")
		bad := ""
		var target string
		if len(f) != nf {
			bad = fmt.Sprintf("%d fields, want %d", len(f), nf)
		} else {
			var ok bool
			if target, ok = t.labelOf(f[labelIdx]); !ok {
				bad = fmt.Sprintf("label %q is not one of the task's labels", f[labelIdx])
			}
		}
		if bad != "" {
			if t.skipBad {
				skipped++
				continue
			}
			return nil, 0, fmt.Errorf("%w: %s:%d: %s", ErrData, path, i+1, bad)
		}
		for k, j := range textIdx {
			fields[k] = f[j]
		}
		out = append(out, Example{Input: t.Format(fields...), Target: target, File: path, Line: i + 1})
	}
	return out, skipped, nil
}
