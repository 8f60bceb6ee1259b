//go:build linux && cgo && !nocuda

package cuda

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/compacter-go/compacter/dist"
)

// The host side of NCCL (no GPU needed): the library probe says what is
// missing, and ncclSetup agrees on the outcome, hands rank 0's id to join
// and refuses an id rank 0 could not create.
func TestNCCLHostSide(t *testing.T) {
	if v, err := NCCLAvailable(); err != nil {
		if !strings.Contains(err.Error(), "libnccl.so.2") {
			t.Errorf("NCCLAvailable: %v does not name the library", err)
		}
		t.Logf("here: %v", err)
	} else if v < 20000 {
		t.Errorf("NCCL version %d", v)
	}
	ctx := context.Background()
	var c dist.Collective = dist.Local{}
	want := bytes.Repeat([]byte{7}, ncclUniqueIDBytes)
	var got []byte
	err := ncclSetup(ctx, c, nil, func(id []byte) error { copy(id, want); return nil },
		func(id []byte) error { got = append([]byte{}, id...); return nil })
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("setup: %v, join got %x", err, got)
	}
	missing := errors.New("no libnccl")
	joined := false
	if err := ncclSetup(ctx, c, missing, nil, func([]byte) error { joined = true; return nil }); !errors.Is(err, missing) || joined {
		t.Errorf("without the library: %v (joined %v)", err, joined)
	}
	if err := ncclSetup(ctx, c, nil, func([]byte) error { return nil }, func([]byte) error { joined = true; return nil }); err == nil || joined {
		t.Errorf("an all-zero id: %v (joined %v)", err, joined)
	}
}
