//go:build !cuda

package cuda

import (
	"errors"
	"testing"
)

func TestNewWithoutCUDA(t *testing.T) {
	if Available() {
		t.Error("Available() in a build without the cuda tag")
	}
	if _, err := New(Options{}); !errors.Is(err, ErrNoCUDA) {
		t.Errorf("New: err %v, want ErrNoCUDA", err)
	}
	if _, err := Load("../testdata/torch113/mlp.pt", Options{}); !errors.Is(err, ErrNoCUDA) {
		t.Errorf("Load: err %v, want ErrNoCUDA", err)
	}
}
