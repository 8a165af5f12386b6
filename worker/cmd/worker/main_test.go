package main

import (
	"bytes"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/graph/graphtest"
)

const fixtures = "../../testdata/"

// build compiles the worker binary into a temp dir.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "worker")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestCLI(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	unsupported := graphtest.EditArchive(t, fixtures+"torch113/mlp.pt", map[string][][2]string{
		"code/__torch__.py": {{"torch.relu(", "torch.relu6("}},
	})
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"inspect prints inputs, ops and parameters", []string{"inspect", fixtures + "torch26/cnn.pt"}, 0,
			[]string{"x: float32 [?, 3, ?, ?]", "_convolution", "batch_norm", "parameters: "}},
		{"inspect lists unsupported ops and exits 1", []string{"inspect", unsupported}, 1,
			[]string{"aten::relu6 at code/__torch__.py:"}},
		{"run without --output", []string{"run", fixtures + "torch113/mlp.pt", "--input", "x.npy"}, 1, nil},
		{"unknown command", []string{"bogus"}, 2, []string{"usage"}},
		{"run with a missing input file", []string{"run", fixtures + "torch113/mlp.pt", "--input", filepath.Join(dir, "nope.npy"), "--output", filepath.Join(dir, "o.npy")}, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, tc.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, &stdout, &stderr)
			}
			all := stdout.String() + stderr.String()
			for _, want := range tc.contains {
				if !strings.Contains(all, want) {
					t.Errorf("output lacks %q:\n%s", want, all)
				}
			}
		})
	}
}

// TestCLIRunRoundTrip runs the binary on .npy files and compares with PyTorch's outputs.
func TestCLIRunRoundTrip(t *testing.T) {
	bin := build(t)
	out := filepath.Join(t.TempDir(), "out.npy")
	cmd := exec.Command(bin, "run", fixtures+"torch26/block.pt", "--input", fixtures+"torch26/block_b4_in0.npy",
		"--output", out, "--threads", "2")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	got, err := engine.ReadNPY(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := engine.ReadNPY(fixtures + "torch26/block_b4_out0.npy")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Float32) != len(want.Float32) || len(got.Shape) != 3 || got.Shape[0] != 4 {
		t.Fatalf("output shape %v, want %v", got.Shape, want.Shape)
	}
	for i := range got.Float32 {
		if d := math.Abs(float64(got.Float32[i] - want.Float32[i])); d > 1e-4 {
			t.Fatalf("element %d differs by %g", i, d)
		}
	}
}

// TestCLIRunTupleOutputs edits the frozen block to return (h, softmax(h)) and checks that
// run writes out_0.npy and out_1.npy.
func TestCLIRunTupleOutputs(t *testing.T) {
	bin := build(t)
	model := graphtest.EditArchive(t, fixtures+"torch113/block_frozen.pt", map[string][][2]string{
		"code/__torch__/___torch_mangle_22.py": {{"return torch.add(x, torch.softmax(h, -1))", "return (h, torch.softmax(h, -1))"}},
	})
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", model, "--input", fixtures+"torch113/block_frozen_b1_in0.npy", "--output", filepath.Join(dir, "out.npy"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	h, err := engine.ReadNPY(filepath.Join(dir, "out_0.npy"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := engine.ReadNPY(filepath.Join(dir, "out_1.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Float32) != 5*16 || len(p.Float32) != 5*16 {
		t.Fatalf("outputs %v and %v, want [1 5 16] each", h.Shape, p.Shape)
	}
	for row := range 5 {
		var sum float64
		for _, v := range p.Float32[row*16 : row*16+16] {
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("softmax row %d sums to %g", row, sum)
		}
	}
}
