package engine

import (
	"fmt"

	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/tensor"
	"github.com/torchgate/torchgate/worker/internal/torchscript"
)

// cast compiles OpCast: an int64 or bool tensor converted to float32 (torch.to(x, float)).
// The cpu package has no conversion kernel; this one belongs there.
func (p *cpuProgram) cast(n *graph.Node, dst *tensor.Tensor) (func() error, error) {
	switch x := n.In[0]; x.DType {
	case torchscript.Int64:
		src := p.i64[x.ID]
		return func() error {
			if len(src.Data) != len(dst.Data) {
				return fmt.Errorf("%w: cast of %d elements into %d", ErrInput, len(src.Data), len(dst.Data))
			}
			for i, v := range src.Data {
				dst.Data[i] = float32(v)
			}
			return nil
		}, nil
	case torchscript.Bool:
		src := p.bools[x.ID]
		return func() error {
			if len(src.Data) != len(dst.Data) {
				return fmt.Errorf("%w: cast of %d elements into %d", ErrInput, len(src.Data), len(dst.Data))
			}
			for i, v := range src.Data {
				dst.Data[i] = 0
				if v {
					dst.Data[i] = 1
				}
			}
			return nil
		}, nil
	}
	return nil, fmt.Errorf("%w: cast from %s", ErrUnsupported, n.In[0].DType)
}
