//go:build !cuda

package cuda

import (
	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/graph"
)

// Backend is the CUDA backend; in this build (without the cuda tag) it cannot be made.
type Backend struct{}

var _ engine.Backend = (*Backend)(nil)

// Available reports false: this build has no CUDA support.
func Available() bool { return false }

// New returns ErrNoCUDA: build with -tags cuda for the GPU backend.
func New(Options) (*Backend, error) { return nil, ErrNoCUDA }

// Close does nothing.
func (*Backend) Close() {}

// PoolStats returns zeros.
func (*Backend) PoolStats() PoolStats { return PoolStats{} }

// Prepare returns ErrNoCUDA.
func (*Backend) Prepare(*graph.Graph) (engine.Program, error) { return nil, ErrNoCUDA }
