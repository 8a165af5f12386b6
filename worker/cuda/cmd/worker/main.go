// Command worker is the GPU build of torchgate's worker (build with -tags cuda; without
// the tag it runs everything on the CPU). It has the CPU worker's commands, with models
// on the GPU when --device chooses it, plus devices:
//
//	worker inspect MODEL.pt
//	worker run MODEL.pt --input x.npy [--input y.npy ...] --output out.npy [--device auto|cpu|cuda] [--threads N] [--gpu N] [--exact-fp32]
//	worker serve --model-repository DIR [--http ADDR] [--grpc ADDR] [--device auto|cpu|cuda] [--gpu N] [--exact-fp32] ...
//	worker devices
//
// --device auto (the default) uses the GPU when one is usable; every model instance that
// serve loads gets its own GPU backend (stream, cuBLAS handle, memory pool). devices
// prints whether a GPU is usable. The commands are package worker/internal/cli's.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/torchgate/torchgate/worker/cuda"
	"github.com/torchgate/torchgate/worker/internal/cli"
	"github.com/torchgate/torchgate/worker/internal/engine"
)

const usage = `  run and serve also take [--gpu N] [--exact-fp32]
  worker devices
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "devices" {
		fmt.Fprintf(stdout, "cuda available: %v\n", cuda.Available())
		return 0
	}
	return cli.Main(ctx, args, stdout, stderr, options())
}

// options wires the CUDA backend into the worker's commands.
func options() cli.Options {
	var opts cuda.Options
	return cli.Options{Usage: usage, CUDA: &cli.CUDA{
		Use: func(device string) (bool, error) { return cuda.UseCUDA(device, cuda.Available()) },
		New: func() (engine.Backend, error) {
			b, err := cuda.New(opts)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return b, nil
		},
		Flags: func(fs *flag.FlagSet) {
			fs.IntVar(&opts.Device, "gpu", 0, "CUDA device ordinal")
			fs.BoolVar(&opts.ExactFP32, "exact-fp32", false, "full FP32 GEMMs instead of TF32")
		},
	}}
}
