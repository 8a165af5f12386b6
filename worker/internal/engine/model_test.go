package engine

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/graph/graphtest"
)

const fixtures = "../../testdata/"

func load(t testing.TB, name string) *Model {
	t.Helper()
	m, err := Load(fixtures+name, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func ones(shape ...int) Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(i%7) * 0.1
	}
	return Tensor{Shape: shape, Float32: d}
}

func TestRunRejectsBadInputsWithoutPanicking(t *testing.T) {
	tests := []struct {
		name    string
		archive string
		inputs  []Tensor
	}{
		{"no inputs", "torch113/mlp.pt", nil},
		{"too many inputs", "torch113/mlp.pt", []Tensor{ones(1, 16), ones(1, 16)}},
		{"wrong feature size", "torch26/mlp_frozen.pt", []Tensor{ones(2, 17)}},
		{"data shorter than the shape", "torch113/mlp.pt", []Tensor{{Shape: []int{2, 16}, Float32: make([]float32, 31)}}},
		{"both data kinds", "torch113/mlp.pt", []Tensor{{Shape: []int{1, 1}, Float32: []float32{1}, Int64: []int64{1}}}},
		{"no data", "torch113/mlp.pt", []Tensor{{Shape: []int{1, 16}}}},
		{"negative size", "torch113/mlp.pt", []Tensor{{Shape: []int{-1, 16}, Float32: make([]float32, 16)}}},
		{"int64 ids into a float model", "torch26/cnn.pt", []Tensor{{Shape: []int{1, 3, 4, 4}, Int64: make([]int64, 48)}}},
		{"image of the wrong rank", "torch26/cnn.pt", []Tensor{ones(3, 16, 16)}},
		{"transformer with the wrong width", "torch26/transformer_frozen.pt", []Tensor{ones(1, 5, 8)}},
		{"encoder layer with the wrong width", "torch113/transformer_nograd_frozen.pt", []Tensor{ones(1, 5, 8)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, tc.archive)
			outs, err := m.Run(context.Background(), tc.inputs)
			if !errors.Is(err, ErrInput) {
				t.Fatalf("Run = %v, %v; want an ErrInput error", outs, err)
			}
		})
	}
}

func TestLoadListsUnsupportedOps(t *testing.T) {
	path := graphtest.EditArchive(t, filepath.Join(fixtures, "torch26/block.pt"), map[string][][2]string{
		"code/__torch__.py": {{"torch.softmax(", "torch.sparsemax("}, {"torch.add(x,", "ops.aten.addcdiv(x,"}},
	})
	_, err := Load(path, Options{Threads: 1})
	var ue *graph.UnsupportedError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnsupported) || len(ue.Items) != 2 {
		t.Fatalf("Load = %v, want an UnsupportedError with two items", err)
	}
	for _, it := range ue.Items {
		if it.Pos.Line == 0 || it.Pos.File == "" {
			t.Errorf("%s without a position", it.What)
		}
	}
}

func TestInputsAndOutputsAfterRun(t *testing.T) {
	m := load(t, "torch113/block.pt")
	if in := m.Inputs(); len(in) != 1 || in[0].Name != "x" {
		t.Fatalf("inputs %+v", in)
	}
	if out := m.Outputs(); out != nil {
		t.Errorf("outputs before a run: %+v", out)
	}
	if _, err := m.Run(context.Background(), []Tensor{ones(3, 5, 16)}); err != nil {
		t.Fatal(err)
	}
	if in := m.Inputs(); !slices.Equal(in[0].Shape, []int{-1, 5, 16}) {
		t.Errorf("input shape after a run %v", in[0].Shape)
	}
	if out := m.Outputs(); len(out) != 1 || !slices.Equal(out[0].Shape, []int{-1, 5, 16}) {
		t.Errorf("outputs %+v", out)
	}
	st := m.Stats()
	if st.Params != 16*2+32*16+32+16*32+16 || st.ParamBytes != 4*st.Params {
		t.Errorf("params %d (%d bytes)", st.Params, st.ParamBytes)
	}
}

func TestRunCancelledContext(t *testing.T) {
	m := load(t, "torch113/mlp.pt")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Run(ctx, []Tensor{ones(1, 16)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}

func TestRunAfterClose(t *testing.T) {
	m, err := Load(fixtures+"torch113/mlp.pt", Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Run(context.Background(), []Tensor{ones(1, 16)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close = %v", err)
	}
}

// TestConcurrentRuns checks that concurrent Runs with different batch sizes give the same
// results as sequential ones (run with -race).
func TestConcurrentRuns(t *testing.T) {
	m := load(t, "torch26/transformer_nograd.pt")
	want := map[int][]float32{}
	for _, b := range []int{1, 2, 3} {
		out, err := m.Run(context.Background(), []Tensor{ones(b, 5, 16)})
		if err != nil {
			t.Fatal(err)
		}
		want[b] = out[0].Float32
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				b := 1 + (g+i)%3
				out, err := m.Run(context.Background(), []Tensor{ones(b, 5, 16)})
				if err != nil {
					t.Error(err)
					return
				}
				if !slices.Equal(out[0].Float32, want[b]) {
					t.Errorf("batch %d differs under concurrency", b)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestWarmRunAllocations checks that a warmed-up Run allocates only what it returns: the
// output slice, the output's shape and its data.
func TestWarmRunAllocations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		archive string
		input   Tensor
		max     float64
	}{
		{"MLP", "torch113/mlp_frozen.pt", ones(4, 16), 3},
		{"CNN", "torch26/cnn.pt", ones(2, 3, 16, 16), 3},
		{"transformer", "torch26/transformer_nograd_frozen.pt", ones(2, 5, 16), 3},
		{"scripted branch with a mean", "torch26/branch.pt", ones(4, 8), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, tc.archive)
			in := []Tensor{tc.input}
			if _, err := m.Run(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(20, func() {
				if _, err := m.Run(context.Background(), in); err != nil {
					t.Fatal(err)
				}
			})
			t.Logf("%s: %.0f allocations per warm Run", tc.name, allocs)
			if allocs > tc.max {
				t.Errorf("%.0f allocations per warm Run, want ≤ %.0f", allocs, tc.max)
			}
		})
	}
}
