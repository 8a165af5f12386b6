package engine

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/graph/graphtest"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// TestEmbeddingWithInt64Ids edits the frozen MLP into linear(relu(embedding(W2, ids)), W2, b2)
// and checks it against a direct computation from the archive's weights.
func TestEmbeddingWithInt64Ids(t *testing.T) {
	path := graphtest.EditArchive(t, fixtures+"torch113/mlp_frozen.pt", map[string][][2]string{
		"code/__torch__/___torch_mangle_1.py": {{"torch.linear(x, CONSTANTS.c0, CONSTANTS.c1)", "torch.embedding(CONSTANTS.c2, x)"}},
	})
	m, err := Load(path, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if in := m.Inputs(); in[0].DType != torchscript.Int64 {
		t.Errorf("input dtype %s, want int64", in[0].DType)
	}
	ids := []int64{0, 7, 3, 3, 5, 1}
	outs, err := m.Run(context.Background(), []Tensor{{Shape: []int{2, 3}, Int64: ids}})
	if err != nil {
		t.Fatal(err)
	}
	if s := outs[0].Shape; len(s) != 3 || s[0] != 2 || s[1] != 3 || s[2] != 8 {
		t.Fatalf("output shape %v, want [2 3 8]", s)
	}
	arc, err := torchscript.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer arc.Close()
	w, _ := arc.Constants[2].(*torchscript.Tensor).Float32() // [8, 32]
	b, _ := arc.Constants[3].(*torchscript.Tensor).Float32() // [8]
	for i, id := range ids {
		for o := range 8 {
			want := float64(b[o])
			for k := range 32 {
				want += float64(max(w[int(id)*32+k], 0)) * float64(w[o*32+k])
			}
			if got := outs[0].Float32[i*8+o]; math.Abs(float64(got)-want) > 1e-4 {
				t.Fatalf("out[%d][%d] = %g, want %g", i, o, got, want)
			}
		}
	}
	for _, bad := range [][]int64{{8}, {-1}} {
		if _, err := m.Run(context.Background(), []Tensor{{Shape: []int{1, 1}, Int64: bad}}); !errors.Is(err, ErrInput) {
			t.Errorf("id %d: Run = %v, want ErrInput", bad[0], err)
		}
	}
	if _, err := m.Run(context.Background(), []Tensor{ones(1, 3)}); !errors.Is(err, ErrInput) {
		t.Errorf("float ids: Run = %v, want ErrInput", err)
	}
}
