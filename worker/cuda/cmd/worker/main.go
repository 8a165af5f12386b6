// Command worker is the GPU build of torchgate's worker (build with -tags cuda; without
// the tag it runs everything on the CPU).
//
//	worker run MODEL.pt --input x.npy [--input y.npy ...] --output out.npy [--device auto|cpu|cuda] [--gpu N] [--exact-fp32]
//	worker devices
//
// run reads NumPy .npy inputs and writes the outputs (a tuple output writes out_0.npy,
// out_1.npy, ...). devices prints whether a GPU is usable. The full command set (inspect,
// serve) arrives when the CPU worker's command code moves to a shared package (see
// ../../README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/torchgate/torchgate/worker/cuda"
	"github.com/torchgate/torchgate/worker/internal/engine"
)

const usage = `usage:
  worker run MODEL.pt --input x.npy [--input y.npy ...] --output out.npy [--device auto|cpu|cuda] [--gpu N] [--exact-fp32]
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
	if len(args) < 1 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runModel(ctx, args[1:], stdout)
	case "devices":
		fmt.Fprintf(stdout, "cuda available: %v\n", cuda.Available())
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	return 0
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func runModel(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("run takes MODEL.pt first")
	}
	model := args[0]
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var inputs multi
	fs.Var(&inputs, "input", "input .npy file (repeat for several inputs)")
	output := fs.String("output", "", "output .npy file")
	device := fs.String("device", cuda.DeviceAuto, "auto, cpu or cuda")
	var opts cuda.Options
	fs.IntVar(&opts.Device, "gpu", 0, "CUDA device ordinal")
	fs.BoolVar(&opts.ExactFP32, "exact-fp32", false, "full FP32 GEMMs instead of TF32")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *output == "" || fs.NArg() > 0 {
		return fmt.Errorf("run needs --output and no extra arguments")
	}
	gpu, err := cuda.UseCUDA(*device, cuda.Available())
	if err != nil {
		return err
	}
	var ins []engine.Tensor
	for _, p := range inputs {
		t, err := engine.ReadNPY(p)
		if err != nil {
			return err
		}
		ins = append(ins, t)
	}
	var m *engine.Model
	if gpu {
		m, err = cuda.Load(model, opts)
	} else {
		m, err = engine.Load(model, engine.Options{})
	}
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintf(stdout, "device: %s\n", map[bool]string{true: cuda.DeviceCUDA, false: cuda.DeviceCPU}[gpu])
	outs, err := m.Run(ctx, ins)
	if err != nil {
		return err
	}
	if len(outs) == 1 {
		return engine.WriteNPY(*output, outs[0])
	}
	ext := filepath.Ext(*output)
	base := strings.TrimSuffix(*output, ext)
	for i, o := range outs {
		if err := engine.WriteNPY(fmt.Sprintf("%s_%d%s", base, i, ext), o); err != nil {
			return err
		}
	}
	return nil
}
