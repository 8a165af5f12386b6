// Command worker runs TorchScript models natively, on the CPU.
//
//	worker inspect MODEL.pt
//	worker run MODEL.pt --input x.npy [--input y.npy ...] --output out.npy [--device auto|cpu|cuda] [--threads N]
//	worker serve --model-repository DIR [--http ADDR] [--grpc ADDR] [--device auto|cpu|cuda] [--threads N]
//
// inspect prints the model's inputs, outputs, op counts and parameters, and exits 1 listing
// every unsupported op with its code position. run reads NumPy .npy inputs and writes the
// outputs (a tuple output writes out_0.npy, out_1.npy, ...). serve answers the Open Inference
// Protocol over REST and gRPC for every model of a Triton-layout repository. --device cuda
// points at the GPU build (worker/cuda/cmd/worker). The commands are package
// worker/internal/cli's.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/torchgate/torchgate/worker/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, cli.Options{})
	stop()
	os.Exit(code)
}
