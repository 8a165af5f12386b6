package cuda

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/graph/graphtest"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// fixtureDirs are the worker's golden fixtures (PyTorch outputs) and, when generated,
// the large ones.
var fixtureDirs = []string{
	"../testdata/torch113", "../testdata/torch26", "../testdata/gen/torch113", "../testdata/gen/torch26",
}

// goldenCase is one archive run at one batch size with PyTorch's outputs.
type goldenCase struct {
	name, archive string
	large         bool
	inputs, want  []engine.Tensor
}

// goldenCases reads the manifests of fixtureDirs and of $TORCHGATE_GPU_MODELS, where
// testdata/gpu_torch.py writes ResNet-50 (on the GPU machine, by scripts/gpu-check.sh).
func goldenCases(t testing.TB) []goldenCase {
	dirs := fixtureDirs
	if d := os.Getenv("TORCHGATE_GPU_MODELS"); d != "" {
		dirs = append(slices.Clone(dirs), d)
	}
	return goldenCasesIn(t, dirs)
}

func goldenCasesIn(t testing.TB, dirs []string) []goldenCase {
	t.Helper()
	var out []goldenCase
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
		if err != nil {
			continue
		}
		var m struct {
			Archives []struct {
				Archive string `json:"archive"`
				Cases   []struct {
					Batch   int                     `json:"batch"`
					Inputs  []struct{ File string } `json:"inputs"`
					Outputs []struct{ File string } `json:"outputs"`
				} `json:"cases"`
			} `json:"archives"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, a := range m.Archives {
			for _, c := range a.Cases {
				gc := goldenCase{
					name:    strings.TrimPrefix(dir, "../testdata/") + "/" + a.Archive + "/b" + strconv.Itoa(c.Batch),
					archive: filepath.Join(dir, a.Archive),
					large:   !slices.Contains(fixtureDirs[:2], dir),
				}
				for _, f := range c.Inputs {
					gc.inputs = append(gc.inputs, readNPY(t, filepath.Join(dir, f.File)))
				}
				for _, f := range c.Outputs {
					gc.want = append(gc.want, readNPY(t, filepath.Join(dir, f.File)))
				}
				out = append(out, gc)
			}
		}
	}
	if len(out) == 0 {
		t.Skip("no fixtures under ../testdata")
	}
	return out
}

func readNPY(t testing.TB, path string) engine.Tensor {
	t.Helper()
	x, err := engine.ReadNPY(path)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// preparedGraph builds the graph of a case as the engine does (BN folding, fusion), then
// lets the CPU backend fold its constants and plan its memory: what Lower receives on
// the GPU, without a GPU.
func preparedGraph(t testing.TB, archive string, inputs []engine.Tensor) *graph.Graph {
	t.Helper()
	arc, err := torchscript.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arc.Close() })
	specs := make([]graph.InputSpec, len(inputs))
	for i, in := range inputs {
		specs[i] = graph.InputSpec{Shape: in.Shape, DType: in.DType()}
	}
	g, err := graph.Build(arc, specs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := graph.FoldBatchNorm(g); err != nil {
		t.Fatal(err)
	}
	graph.Fuse(g)
	cpu := engine.NewCPU(engine.Options{Threads: 1})
	defer cpu.Close()
	if _, err := cpu.Prepare(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// embeddingCase edits the frozen MLP into linear(relu(embedding(W2, ids)), W2, b2), as the
// engine's TestEmbeddingWithInt64Ids does, with the CPU engine's output as reference.
func embeddingCase(t testing.TB) goldenCase {
	t.Helper()
	path := graphtest.EditArchive(t, "../testdata/torch113/mlp_frozen.pt", map[string][][2]string{
		"code/__torch__/___torch_mangle_1.py": {{"torch.linear(x, CONSTANTS.c0, CONSTANTS.c1)", "torch.embedding(CONSTANTS.c2, x)"}},
	})
	in := []engine.Tensor{{Shape: []int{2, 3}, Int64: []int64{0, 7, 3, 3, 5, 1}}}
	m, err := engine.Load(path, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want, err := m.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return goldenCase{name: "embedding", archive: path, inputs: in, want: want}
}
