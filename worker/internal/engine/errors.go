package engine

import (
	"errors"

	"github.com/torchgate/torchgate/worker/internal/graph"
)

// Sentinel errors; returned errors wrap them (test with errors.Is).
var (
	// ErrInput reports inputs that do not fit the model (count, dtype, shape). It is
	// graph.ErrInput, so either name matches.
	ErrInput = graph.ErrInput
	// ErrUnsupported reports an archive using ops or constructs the engine cannot run; the
	// error is a *graph.UnsupportedError listing all of them with their code positions.
	ErrUnsupported = graph.ErrUnsupported
	// ErrInternal reports a failure inside the engine (a recovered panic).
	ErrInternal = errors.New("engine: internal error")
	// ErrClosed reports a Run on a closed Model.
	ErrClosed = errors.New("engine: model closed")
)
