package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/graph/graphtest"
)

const fixtures = "../../testdata/"

// fakeGPU is a CUDA whose backends are CPU engines; it counts them and records --gpu.
type fakeGPU struct {
	available bool
	made      atomic.Int32
	ordinal   int
}

func (g *fakeGPU) cuda() *CUDA {
	return &CUDA{
		Use: func(device string) (bool, error) {
			switch device {
			case deviceCUDA:
				if !g.available {
					return false, errors.New("fake: no GPU")
				}
				return true, nil
			case deviceAuto:
				return g.available, nil
			case deviceCPU:
				return false, nil
			}
			return false, errors.New("fake: not auto, cpu or cuda")
		},
		New: func() (engine.Backend, error) {
			g.made.Add(1)
			return engine.NewCPU(engine.Options{Threads: 1}), nil
		},
		Flags: func(fs *flag.FlagSet) { fs.IntVar(&g.ordinal, "gpu", 0, "device ordinal") },
	}
}

func TestMainCommands(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.npy")
	mlp := fixtures + "torch113/mlp.pt"
	in := fixtures + "torch113/mlp_b1_in0.npy"
	unsupported := graphtest.EditArchive(t, mlp, map[string][][2]string{
		"code/__torch__.py": {{"torch.relu(", "torch.relu6("}},
	})
	tests := []struct {
		name     string
		args     []string
		gpu      *fakeGPU // nil: the CPU build
		code     int
		stdout   string
		stderr   string
		backends int32 // GPU backends made
	}{
		{name: "no command", code: 2, stderr: "usage:"},
		{name: "unknown command shows the build's usage", args: []string{"bogus"}, gpu: &fakeGPU{}, code: 2, stderr: "extra usage"},
		{name: "help", args: []string{"run", mlp, "-h"}, code: 2},
		{name: "inspect", args: []string{"inspect", mlp}, code: 0, stdout: "parameters: "},
		{name: "inspect lists unsupported ops", args: []string{"inspect", unsupported}, code: 1, stdout: "aten::relu6 at code/__torch__.py:"},
		{name: "run on the CPU build", args: []string{"run", mlp, "--input", in, "--output", out, "--threads", "1"}, code: 0, stdout: "device: cpu"},
		{name: "run --device cuda on the CPU build", args: []string{"run", mlp, "--input", in, "--output", out, "--device", "cuda"}, code: 1, stderr: "use the GPU build (worker/cuda/cmd/worker)"},
		{name: "run with a bad device", args: []string{"run", mlp, "--output", out, "--device", "tpu"}, code: 1, stderr: "run: --device \"tpu\" is not auto, cpu or cuda"},
		{name: "run --gpu on the CPU build", args: []string{"run", mlp, "--output", out, "--gpu", "1"}, code: 1, stderr: "flag provided but not defined: -gpu"},
		{name: "run on the GPU", args: []string{"run", mlp, "--input", in, "--output", out, "--device", "cuda", "--gpu", "1"}, gpu: &fakeGPU{available: true}, code: 0, stdout: "device: cuda", backends: 1},
		{name: "auto picks the GPU", args: []string{"run", mlp, "--input", in, "--output", out}, gpu: &fakeGPU{available: true}, code: 0, stdout: "device: cuda", backends: 1},
		{name: "auto falls back to the CPU", args: []string{"run", mlp, "--input", in, "--output", out}, gpu: &fakeGPU{}, code: 0, stdout: "device: cpu"},
		{name: "cuda without a GPU", args: []string{"run", mlp, "--input", in, "--output", out, "--device", "cuda"}, gpu: &fakeGPU{}, code: 1, stderr: "fake: no GPU"},
		{name: "the build resolves bad devices", args: []string{"run", mlp, "--output", out, "--device", "tpu"}, gpu: &fakeGPU{}, code: 1, stderr: "fake: not auto, cpu or cuda"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts Options
			if tc.gpu != nil {
				opts = Options{CUDA: tc.gpu.cuda(), Usage: "  extra usage\n"}
			}
			var so, se bytes.Buffer
			if code := Main(context.Background(), tc.args, &so, &se, opts); code != tc.code {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, tc.code, so.String(), se.String())
			}
			if !strings.Contains(so.String(), tc.stdout) || !strings.Contains(se.String(), tc.stderr) {
				t.Errorf("stdout %q, stderr %q; want %q and %q", so.String(), se.String(), tc.stdout, tc.stderr)
			}
			if tc.gpu != nil {
				if n := tc.gpu.made.Load(); n != tc.backends {
					t.Errorf("%d GPU backends made, want %d", n, tc.backends)
				}
			}
		})
	}
}

// TestServeOnGPU checks that serve makes one GPU backend per model instance.
func TestServeOnGPU(t *testing.T) {
	gpu := &fakeGPU{available: true}
	repo := testRepo(t, "instances: 3\n")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--model-repository", repo, "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--gpu", "2"},
			gpu.cuda(), slog.New(slog.DiscardHandler), func(net.Addr, net.Addr) { cancel() })
	}()
	if err := <-done; err != nil {
		t.Fatalf("runServe: %v", err)
	}
	if n := gpu.made.Load(); n != 3 {
		t.Errorf("%d GPU backends made, want 3", n)
	}
	if gpu.ordinal != 2 {
		t.Errorf("--gpu 2 parsed as %d", gpu.ordinal)
	}
}

func TestThreadsPerInstance(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dev       device
		instances int
		want      int
	}{
		{name: "one instance keeps every CPU", dev: device{}, instances: 1, want: 0},
		{name: "two instances share the CPUs", dev: device{}, instances: 2, want: 8},
		{name: "more instances than CPUs get a thread each", dev: device{}, instances: 40, want: 1},
		{name: "explicit threads are kept", dev: device{threads: 3}, instances: 2, want: 3},
		{name: "a GPU device is left alone", dev: device{gpu: true}, instances: 2, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.dev.perInstance(tc.instances, 16).threads; got != tc.want {
				t.Errorf("threads %d, want %d", got, tc.want)
			}
		})
	}
}
