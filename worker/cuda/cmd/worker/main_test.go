//go:build !cuda

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	fixture := "../../../testdata/torch113/"
	out := filepath.Join(t.TempDir(), "out.npy")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "no command", args: nil, code: 2, stderr: "usage"},
		{name: "unknown command", args: []string{"bogus"}, code: 2, stderr: "worker devices"},
		{name: "devices without the cuda tag", args: []string{"devices"}, code: 0, stdout: "cuda available: false"},
		{name: "cuda required but absent", args: []string{"run", fixture + "mlp.pt", "--input", fixture + "mlp_b1_in0.npy", "--output", out, "--device", "cuda"}, code: 1, stderr: "no CUDA device"},
		{name: "bad device", args: []string{"run", fixture + "mlp.pt", "--output", out, "--device", "tpu"}, code: 1, stderr: "not auto, cpu or cuda"},
		{name: "serve needs a GPU for cuda", args: []string{"serve", "--model-repository", fixture, "--device", "cuda", "--gpu", "1"}, code: 1, stderr: "no CUDA device"},
		{name: "GPU flags on the CPU", args: []string{"run", fixture + "mlp.pt", "--input", fixture + "mlp_b1_in0.npy", "--output", out, "--device", "cpu", "--gpu", "1", "--exact-fp32"}, code: 0, stdout: "device: cpu"},
		{name: "inspect", args: []string{"inspect", fixture + "mlp.pt"}, code: 0, stdout: "parameters: "},
		{name: "auto falls back to the CPU", args: []string{"run", fixture + "mlp.pt", "--input", fixture + "mlp_b1_in0.npy", "--output", out}, code: 0, stdout: "device: cpu"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var so, se bytes.Buffer
			if code := run(context.Background(), tc.args, &so, &se); code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, se.String())
			}
			if !strings.Contains(so.String(), tc.stdout) || !strings.Contains(se.String(), tc.stderr) {
				t.Errorf("stdout %q, stderr %q; want %q and %q", so.String(), se.String(), tc.stdout, tc.stderr)
			}
		})
	}
}
