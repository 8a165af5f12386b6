package engine

import (
	"context"

	"github.com/torchgate/torchgate/worker/internal/graph"
)

// Backend executes graphs on one kind of device. The CPU backend is this package's; the
// CUDA backend implements the same interface in its own module.
type Backend interface {
	// Prepare turns a graph (already BN-folded and fused) into a runnable Program; it runs
	// graph.FoldConstants with its own kernels and graph.PlanMemory, and applies each
	// convolution's graph.Conv2d.Scale to its weight.
	Prepare(g *graph.Graph) (Program, error)
	// Close releases the backend's threads and memory.
	Close()
}

// Program is one prepared graph. Run is never called concurrently on one Program.
type Program interface {
	// Run computes the outputs for inputs that match the graph's inputs (the Model has
	// checked count, dtype and shape) and writes them into outs, allocating their data.
	Run(ctx context.Context, inputs []Tensor, outs []Tensor) error
}
