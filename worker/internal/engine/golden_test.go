package engine

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// manifest is the part of gen.py's manifest.json the golden tests read.
type manifest struct {
	Torch    string `json:"torch"`
	Archives []struct {
		Archive string `json:"archive"`
		Cases   []struct {
			Batch   int                     `json:"batch"`
			Inputs  []struct{ File string } `json:"inputs"`
			Outputs []struct{ File string } `json:"outputs"`
		} `json:"cases"`
	} `json:"archives"`
}

// fixtureDirs are the committed fixtures and the generated large ones (if present).
var fixtureDirs = []string{
	"../../testdata/torch113", "../../testdata/torch26",
	"../../testdata/gen/torch113", "../../testdata/gen/torch26",
}

func readManifest(t testing.TB, dir string) *manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return &m
}

// TestGolden runs every fixture with reference outputs and compares with PyTorch:
// max |ours − torch| ≤ 1e-4 · max(1, max |torch|) per output.
func TestGolden(t *testing.T) {
	for _, dir := range fixtureDirs {
		m := readManifest(t, dir)
		if m == nil {
			t.Logf("skipping %s: no manifest (generate with gen.py)", dir)
			continue
		}
		for _, a := range m.Archives {
			if len(a.Cases) == 0 {
				continue
			}
			t.Run(strings.TrimPrefix(dir, "../../testdata/")+"/"+a.Archive, func(t *testing.T) {
				if testing.Short() && filepath.Base(filepath.Dir(dir)) == "gen" {
					t.Skip("large model in -short mode")
				}
				model, err := Load(filepath.Join(dir, a.Archive), Options{Threads: 2})
				if err != nil {
					t.Fatal(err)
				}
				defer model.Close()
				for _, c := range a.Cases {
					var ins []Tensor
					for _, in := range c.Inputs {
						x, err := ReadNPY(filepath.Join(dir, in.File))
						if err != nil {
							t.Fatal(err)
						}
						ins = append(ins, x)
					}
					outs, err := model.Run(context.Background(), ins)
					if err != nil {
						t.Fatalf("batch %d: %v", c.Batch, err)
					}
					if len(outs) != len(c.Outputs) {
						t.Fatalf("batch %d: %d outputs, want %d", c.Batch, len(outs), len(c.Outputs))
					}
					for i, o := range c.Outputs {
						want, err := ReadNPY(filepath.Join(dir, o.File))
						if err != nil {
							t.Fatal(err)
						}
						compare(t, c.Batch, i, outs[i], want)
					}
				}
			})
		}
	}
}

func compare(t *testing.T, batch, i int, got, want Tensor) {
	t.Helper()
	if len(got.Shape) != len(want.Shape) || len(got.Float32) != len(want.Float32) {
		t.Fatalf("batch %d output %d: shape %v, want %v", batch, i, got.Shape, want.Shape)
	}
	for d := range got.Shape {
		if got.Shape[d] != want.Shape[d] {
			t.Fatalf("batch %d output %d: shape %v, want %v", batch, i, got.Shape, want.Shape)
		}
	}
	var maxRef, maxDiff float64
	for j, w := range want.Float32 {
		maxRef = max(maxRef, math.Abs(float64(w)))
		d := math.Abs(float64(got.Float32[j]) - float64(w))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		maxDiff = max(maxDiff, d)
	}
	if tol := 1e-4 * max(1, maxRef); maxDiff > tol {
		t.Errorf("batch %d output %d: max |diff| %.3g > %.3g", batch, i, maxDiff, tol)
	}
}
