package cuda

import (
	"errors"
	"fmt"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// Device names of the worker's --device flag.
const (
	DeviceAuto = "auto"
	DeviceCPU  = "cpu"
	DeviceCUDA = "cuda"
)

// UseCUDA resolves the --device flag: "cuda" needs a GPU (ErrNoCUDA without one), "cpu"
// never uses it, "auto" uses it when one is available.
func UseCUDA(device string, available bool) (bool, error) {
	switch device {
	case DeviceCUDA:
		if !available {
			return false, ErrNoCUDA
		}
		return true, nil
	case DeviceAuto:
		return available, nil
	case DeviceCPU:
		return false, nil
	}
	return false, fmt.Errorf("cuda: --device %q is not auto, cpu or cuda", device)
}

// Load opens a TorchScript archive as an engine Model running on a new GPU backend.
func Load(path string, opts Options) (*engine.Model, error) {
	arc, err := torchscript.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	b, err := New(opts)
	if err != nil {
		return nil, errors.Join(err, arc.Close())
	}
	m, err := engine.New(arc, b) // closes b on failure
	if err != nil {
		return nil, errors.Join(err, arc.Close())
	}
	return m, nil
}
