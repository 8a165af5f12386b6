// Command worker runs TorchScript models natively.
//
//	worker inspect MODEL.pt
//	worker run MODEL.pt --input x.npy [--input y.npy ...] --output out.npy [--threads N]
//	worker serve --model-repository DIR [--http ADDR] [--grpc ADDR] [--device auto|cpu|cuda] [--threads N]
//
// inspect prints the model's inputs, outputs, op counts and parameters, and exits 1 listing
// every unsupported op with its code position. run reads NumPy .npy inputs and writes the
// outputs (a tuple output writes out_0.npy, out_1.npy, ...). serve answers the Open Inference
// Protocol over REST and gRPC for every model of a Triton-layout repository.
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
	"sort"
	"strings"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/graph"
)

const usage = `usage:
  worker inspect MODEL.pt
  worker run MODEL.pt --input x.npy [--input y.npy ...] --output out.npy [--threads N]
  worker serve --model-repository DIR [--http 127.0.0.1:8000] [--grpc 127.0.0.1:8001]
               [--device auto|cpu|cuda] [--threads N] [--trusted-peers CIDR,...]
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
	case "inspect":
		err = inspect(args[1:], stdout)
	case "run":
		err = runModel(ctx, args[1:])
	case "serve":
		err = serveCmd(args[1:])
	default:
		fmt.Fprint(stderr, usage)
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

func inspect(args []string, w io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("inspect takes one MODEL.pt")
	}
	m, err := engine.Load(args[0], engine.Options{Threads: 1})
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintln(w, "inputs:")
	for _, in := range m.Inputs() {
		fmt.Fprintf(w, "  %s: %s %s\n", in.Name, in.DType, shapeString(in.Shape))
	}
	fmt.Fprintln(w, "outputs:")
	fmt.Fprintln(w, "  determined by the input shapes (traced code); run the model to see them")
	st := m.Stats()
	fmt.Fprintln(w, "ops (call sites per forward):")
	names := make([]string, 0, len(st.OpCalls))
	for k := range st.OpCalls {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %-32s %d\n", k, st.OpCalls[k])
	}
	fmt.Fprintf(w, "parameters: %d (%d bytes)\n", st.Params, st.ParamBytes)
	return nil
}

func shapeString(s []int) string {
	if s == nil {
		return "[?]"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
		if d < 0 {
			parts[i] = "?"
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func runModel(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("run takes MODEL.pt first")
	}
	model := args[0]
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var inputs multi
	fs.Var(&inputs, "input", "input .npy file (repeat for several inputs)")
	output := fs.String("output", "", "output .npy file")
	threads := fs.Int("threads", 0, "kernel threads (0: one per CPU)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *output == "" || fs.NArg() > 0 {
		return fmt.Errorf("run needs --output and no extra arguments")
	}
	var ins []engine.Tensor
	for _, p := range inputs {
		t, err := engine.ReadNPY(p)
		if err != nil {
			return err
		}
		ins = append(ins, t)
	}
	m, err := engine.Load(model, engine.Options{Threads: *threads})
	if err != nil {
		return err
	}
	defer m.Close()
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
