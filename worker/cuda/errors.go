package cuda

import (
	"errors"
	"fmt"

	"github.com/torchgate/torchgate/worker/internal/graph"
)

// Sentinel errors; returned errors wrap them (test with errors.Is).
var (
	// ErrNoCUDA reports a build without the cuda tag, or a machine without a usable GPU.
	ErrNoCUDA = errors.New("cuda: no CUDA device available")
	// ErrUnsupported reports a graph the backend cannot lower (an op, dtype or shape the
	// kernels do not handle). It wraps graph.ErrUnsupported (= engine.ErrUnsupported).
	ErrUnsupported = fmt.Errorf("cuda: %w", graph.ErrUnsupported)
	// ErrInput reports input data the model cannot take (a token id outside the
	// embedding). It wraps graph.ErrInput (= engine.ErrInput).
	ErrInput = fmt.Errorf("cuda: %w", graph.ErrInput)
	// ErrDevice reports a failure of the CUDA driver or of cuBLAS.
	ErrDevice = errors.New("cuda: device error")
	// ErrPoolLimit reports a pool allocation beyond Options.MemoryLimit.
	ErrPoolLimit = errors.New("cuda: device memory limit reached")
)
