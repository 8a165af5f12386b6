package batch

import "errors"

// Sentinel errors; returned errors wrap them (test with errors.Is). Requests dropped for
// their context return the context's error.
var (
	// ErrQueueFull reports a request refused because the queue is at MaxQueueSize.
	ErrQueueFull = errors.New("batch: queue full")
	// ErrClosed reports a request refused or abandoned because the Batcher is closing.
	ErrClosed = errors.New("batch: closed")
	// ErrBatchTooLarge reports a request whose own batch exceeds MaxBatchSize.
	ErrBatchTooLarge = errors.New("batch: request batch larger than max_batch_size")
	// ErrOutput reports model outputs that cannot be split back along the batch axis.
	ErrOutput = errors.New("batch: outputs do not keep the batch axis")
)
