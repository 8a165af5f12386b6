package graph

import (
	"errors"
	"strings"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/graph/graphtest"
	ts "github.com/torchgate/torchgate/worker/internal/torchscript"
)

const fixtures = "../../testdata/"

func open(t *testing.T, path string) *ts.Archive {
	t.Helper()
	a, err := ts.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestScanListsEveryUnsupportedOp(t *testing.T) {
	path := graphtest.EditArchive(t, fixtures+"torch113/cnn.pt", map[string][][2]string{
		"code/__torch__/torch/nn/modules/pooling.py": {
			{"torch.max_pool2d(", "torch.max_pool3d("},
			{"torch.adaptive_avg_pool2d(", "ops.prim.Frobnicate("},
		},
		"code/__torch__.py": {{"torch.flatten(", "torch.unflatten_twice("}},
	})
	_, err := Scan(open(t, path))
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Scan error %v, want an UnsupportedError", err)
	}
	want := []struct{ what, file string }{
		{"aten::unflatten_twice", "code/__torch__.py"},
		{"aten::max_pool3d", "code/__torch__/torch/nn/modules/pooling.py"},
		{"prim::Frobnicate", "code/__torch__/torch/nn/modules/pooling.py"},
	}
	if len(ue.Items) != len(want) {
		t.Fatalf("got %d items:\n%v", len(ue.Items), err)
	}
	for i, w := range want {
		it := ue.Items[i]
		if it.What != w.what || !strings.HasSuffix(it.Pos.File, w.file) || it.Pos.Line <= 0 {
			t.Errorf("item %d = %s at %s, want %s in %s", i, it.What, it.Pos, w.what, w.file)
		}
		if !strings.Contains(err.Error(), it.Pos.String()) {
			t.Errorf("error text lacks %s:\n%v", it.Pos, err)
		}
	}
}

func TestScanReport(t *testing.T) {
	tests := []struct {
		name    string
		archive string
		inputs  []string
		ops     map[string]int
	}{
		{"traced MLP", "torch113/mlp.pt", []string{"x"}, map[string]int{"linear": 2, "relu": 1}},
		{"frozen MLP", "torch26/mlp_frozen.pt", []string{"x"}, map[string]int{"linear": 2, "relu": 1}},
		{"scripted branch counts both arms", "torch113/branch.pt", []string{"x"},
			map[string]int{"linear": 1, "size": 1, "gt": 1, "sub": 1, "mean": 1, "tanh": 1, "mul": 1, "add": 1}},
		{"shared ReLU module called twice", "torch113/cnn.pt", []string{"x"},
			map[string]int{"_convolution": 2, "batch_norm": 2, "relu_": 1, "relu": 1, "flatten": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Scan(open(t, fixtures+tc.archive))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Inputs) != len(tc.inputs) {
				t.Fatalf("inputs %+v, want %v", rep.Inputs, tc.inputs)
			}
			for i, n := range tc.inputs {
				if rep.Inputs[i].Name != n {
					t.Errorf("input %d named %s, want %s", i, rep.Inputs[i].Name, n)
				}
			}
			for op, n := range tc.ops {
				if rep.OpCalls[op] != n {
					t.Errorf("%s counted %d times, want %d (all: %v)", op, rep.OpCalls[op], n, rep.OpCalls)
				}
			}
		})
	}
}

func TestScanInfersConvInputShape(t *testing.T) {
	rep, err := Scan(open(t, fixtures+"torch26/cnn_frozen.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Inputs[0].Shape; len(got) != 4 || got[0] != -1 || got[1] != 3 {
		t.Errorf("input shape %v, want [-1 3 -1 -1]", got)
	}
}

func TestScanRejectsNonTensorOutputs(t *testing.T) {
	_, err := Scan(open(t, fixtures+"torch26/syntax.pt"))
	var ue *UnsupportedError
	if !errors.As(err, &ue) || len(ue.Items) != 1 || ue.Items[0].What != "forward returning a non-tensor value" {
		t.Fatalf("Scan(syntax.pt) = %v, want the List[int] output reported", err)
	}
}
