package cli

import (
	"errors"
	"flag"
	"fmt"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// errNoCUDA answers --device cuda in a build without GPU support.
var errNoCUDA = errors.New("this build has no CUDA backend; use the GPU build (worker/cuda/cmd/worker)")

// The values of the --device flag.
const (
	deviceAuto = "auto"
	deviceCPU  = "cpu"
	deviceCUDA = "cuda"
)

// device is where a command's models run.
type device struct {
	gpu     bool
	threads int   // CPU kernel threads (0: one per CPU)
	cuda    *CUDA // set when gpu
}

// addDeviceFlags registers --device, --threads and the build's GPU flags on fs.
func addDeviceFlags(fs *flag.FlagSet, c *CUDA, dev *string, threads *int, threadsUsage string) {
	fs.StringVar(dev, "device", deviceAuto, "auto, cpu or cuda")
	fs.IntVar(threads, "threads", 0, threadsUsage)
	if c != nil && c.Flags != nil {
		c.Flags(fs)
	}
}

// resolveDevice resolves the --device flag of command cmd.
func resolveDevice(cmd, flagValue string, threads int, c *CUDA) (device, error) {
	d := device{threads: threads}
	if c != nil {
		gpu, err := c.Use(flagValue)
		if err != nil {
			return d, err
		}
		d.gpu, d.cuda = gpu, c
		return d, nil
	}
	switch flagValue {
	case deviceCUDA:
		return d, errNoCUDA
	case deviceAuto, deviceCPU:
		return d, nil
	}
	return d, fmt.Errorf("%s: --device %q is not auto, cpu or cuda", cmd, flagValue)
}

// perInstance returns d for each of n instances of a model: without --threads, the CPUs are
// shared out among the instances (at least one thread each) rather than every instance
// starting a thread per CPU, which would oversubscribe them n times.
func (d device) perInstance(n, cpus int) device {
	if d.threads == 0 && !d.gpu && n > 1 {
		d.threads = max(1, cpus/n)
	}
	return d
}

// String names the device: cpu or cuda.
func (d device) String() string {
	if d.gpu {
		return deviceCUDA
	}
	return deviceCPU
}

// load opens the TorchScript archive at path as a Model on a new backend of d.
func (d device) load(path string) (*engine.Model, error) {
	arc, err := torchscript.Open(path)
	if err != nil {
		return nil, err
	}
	var b engine.Backend
	if d.gpu {
		if b, err = d.cuda.New(); err != nil {
			return nil, errors.Join(err, arc.Close())
		}
	} else {
		b = engine.NewCPU(engine.Options{Threads: d.threads})
	}
	m, err := engine.New(arc, b) // closes b on failure
	if err != nil {
		return nil, errors.Join(err, arc.Close())
	}
	return m, nil
}
