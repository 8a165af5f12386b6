package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/torchgate/torchgate/worker/internal/engine"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// runModel runs a model on .npy inputs and writes its outputs (a tuple output writes
// out_0.npy, out_1.npy, ...), printing the device it ran on.
func runModel(ctx context.Context, args []string, stdout io.Writer, c *CUDA) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("run takes MODEL.pt first")
	}
	model := args[0]
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var inputs multi
	fs.Var(&inputs, "input", "input .npy file (repeat for several inputs)")
	output := fs.String("output", "", "output .npy file")
	var devFlag string
	var threads int
	addDeviceFlags(fs, c, &devFlag, &threads, "kernel threads (0: one per CPU)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *output == "" || fs.NArg() > 0 {
		return fmt.Errorf("run needs --output and no extra arguments")
	}
	dev, err := resolveDevice("run", devFlag, threads, c)
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
	m, err := dev.load(model)
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Fprintf(stdout, "device: %s\n", dev)
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
