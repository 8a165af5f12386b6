package batch

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/torchgate/torchgate/worker/internal/engine"
)

// maxPriority bounds |priority| so ranks cannot overflow.
const maxPriority = 1000

// request is one queued Submit.
type request struct {
	ctx     context.Context
	inputs  []engine.Tensor
	items   int    // the batch (first) dimension shared by all inputs; 1 when unbatchable
	key     string // requests with equal non-empty keys can be merged; "" runs alone
	arrived time.Time
	rank    int64 // arrival in ns minus priority·AgingStep: lower is served first
	done    chan result
}

// result is what Submit returns.
type result struct {
	outputs []engine.Tensor
	err     error
}

// newRequest prepares a request: its batch size, compatibility key and rank.
func newRequest(ctx context.Context, inputs []engine.Tensor, priority int, cfg Config) (*request, error) {
	now := cfg.Now()
	priority = min(max(priority, -maxPriority), maxPriority)
	r := &request{
		ctx:     ctx,
		inputs:  inputs,
		items:   1,
		arrived: now,
		rank:    now.UnixNano() - int64(priority)*int64(cfg.AgingStep),
		done:    make(chan result, 1),
	}
	if cfg.MaxBatchSize <= 1 {
		return r, nil
	}
	items, key := batchKey(inputs)
	if key == "" {
		return r, nil
	}
	if items > cfg.MaxBatchSize {
		return nil, errorf(ErrBatchTooLarge, "batch %d, max_batch_size %d", items, cfg.MaxBatchSize)
	}
	r.items, r.key = items, key
	return r, nil
}

// batchKey returns the shared first dimension of the inputs and a key naming their dtypes
// and remaining sizes; the key is "" when the inputs cannot be batched (no inputs, a
// scalar, an empty batch, or first dimensions that differ).
func batchKey(inputs []engine.Tensor) (int, string) {
	if len(inputs) == 0 || len(inputs[0].Shape) == 0 || inputs[0].Shape[0] < 1 {
		return 0, ""
	}
	items := inputs[0].Shape[0]
	var sb strings.Builder
	for _, in := range inputs {
		if len(in.Shape) == 0 || in.Shape[0] != items {
			return 0, ""
		}
		sb.WriteString(strconv.Itoa(int(in.DType())))
		for _, d := range in.Shape[1:] {
			sb.WriteByte(',')
			sb.WriteString(strconv.Itoa(d))
		}
		sb.WriteByte(';')
	}
	return items, sb.String()
}

// finish hands the request its result; it never blocks.
func (r *request) finish(outputs []engine.Tensor, err error) {
	r.done <- result{outputs: outputs, err: err}
}
