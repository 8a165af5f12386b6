package engine

import (
	"encoding/binary"
	"math"

	"github.com/torchgate/torchgate/worker/internal/cpu"
	"github.com/torchgate/torchgate/worker/internal/graph"
	"github.com/torchgate/torchgate/worker/internal/tensor"
)

// convWeights returns the packed weight of a convolution whose weight value is v (data w),
// packing it on the first request for its archive tensor, groups and scales.
func (c *CPU) convWeights(v *graph.Value, w *tensor.Tensor, a graph.Conv2d) (*cpu.ConvWeights, error) {
	if v.Source == nil {
		return cpu.PackConv2d(w, a.Groups, a.Scale)
	}
	key := convKey{src: v.Source, groups: a.Groups}
	if len(a.Scale) > 0 {
		b := make([]byte, 0, 8*len(a.Scale))
		for _, s := range a.Scale {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s))
		}
		key.scale = string(b)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cw, ok := c.convs[key]; ok {
		return cw, nil
	}
	cw, err := cpu.PackConv2d(w, a.Groups, a.Scale)
	if err != nil {
		return nil, err
	}
	c.convs[key] = cw
	return cw, v.Source.Storage.Evict()
}

// linearWeights returns the packed weight of a linear layer whose weight value is v (data
// w), packing it on the first request for its archive tensor.
func (c *CPU) linearWeights(v *graph.Value, w *tensor.Tensor) (*cpu.LinearWeights, error) {
	if v.Source == nil {
		return cpu.PackLinear(w)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if lw, ok := c.linears[v.Source]; ok {
		return lw, nil
	}
	lw, err := cpu.PackLinear(w)
	if err != nil {
		return nil, err
	}
	c.linears[v.Source] = lw
	return lw, v.Source.Storage.Evict()
}
