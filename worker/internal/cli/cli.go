package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/graph"
)

const usage = `usage:
  worker inspect MODEL.pt
  worker run MODEL.pt --input x.npy [--input y.npy ...] --output out.npy [--device auto|cpu|cuda] [--threads N]
  worker serve --model-repository DIR [--http 127.0.0.1:8000] [--grpc 127.0.0.1:8001]
               [--device auto|cpu|cuda] [--threads N] [--trusted-peers CIDR,...]
`

// Options are what a build of the worker adds to the shared commands. The zero value is
// the CPU build.
type Options struct {
	// CUDA is the build's GPU support; nil means the models run on the CPU only.
	CUDA *CUDA
	// Usage is appended to the usage text: the build's extra flags and commands.
	Usage string
}

// CUDA is a build's GPU support.
type CUDA struct {
	// Use resolves the --device flag (auto, cpu or cuda): whether the models run on the
	// GPU. It fails for cuda without a usable GPU and for other values.
	Use func(device string) (bool, error)
	// New makes the backend of one model instance on the GPU.
	New func() (engine.Backend, error)
	// Flags, when set, registers the GPU's flags (device ordinal, precision) on the flag
	// sets of run and serve; New sees their parsed values.
	Flags func(fs *flag.FlagSet)
}

// Main runs one worker command (args without the program name) and returns the exit
// code: 0 done, 1 failed (an unsupported model lists its ops on stdout), 2 usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, opts Options) int {
	if len(args) < 1 {
		fmt.Fprint(stderr, usage+opts.Usage)
		return 2
	}
	var err error
	switch args[0] {
	case "inspect":
		err = inspect(args[1:], stdout)
	case "run":
		err = runModel(ctx, args[1:], stdout, opts.CUDA)
	case "serve":
		err = serveCmd(ctx, args[1:], stderr, opts.CUDA)
	default:
		fmt.Fprint(stderr, usage+opts.Usage)
		return 2
	}
	var ue *graph.UnsupportedError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(stdout, "unsupported:")
		for _, it := range ue.Items {
			fmt.Fprintf(stdout, "  %s at %s\n", it.What, it.Pos)
		}
		return 1
	case errors.Is(err, flag.ErrHelp):
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	return 0
}
