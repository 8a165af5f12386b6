package serve

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/repository"
)

// inferRequest is a decoded inference request from either protocol.
type inferRequest struct {
	id string
	// inputs in the order the client sent them.
	inputs []input
	// outputs requested by name; nil returns every output.
	outputs []requestedOutput
	// binaryOutputs asks for every output as binary data (REST binary_data_output).
	binaryOutputs bool
}

// requestedOutput is one output a client asked for.
type requestedOutput struct {
	name   string
	binary bool // REST: return as binary data
}

// identity is who sent a request, from trusted x-torchgate-* headers.
type identity struct {
	client   string
	priority int
}

// anonymous is the identity of requests without trusted headers.
var anonymous = identity{client: "anonymous"}

// infer runs one request on a model version and returns the outputs in response order.
// Errors are *Error or come from the batcher (see toError).
func (s *Server) infer(ctx context.Context, v *version, req *inferRequest, id identity) ([]output, error) {
	tensors, err := v.bind(req.inputs)
	if err != nil {
		return nil, err
	}
	outSpecs := v.outputs()
	if len(outSpecs) > 0 {
		if _, err := pick(outSpecs, len(outSpecs), req.outputs); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.RequestTimeout)
	defer cancel()
	outs, err := v.batcher.Submit(ctx, tensors, id.priority)
	if err != nil {
		return nil, err
	}
	if len(outSpecs) == 0 {
		outSpecs = v.outputs()
	}
	idx, err := pick(outSpecs, len(outs), req.outputs)
	if err != nil {
		return nil, err
	}
	res := make([]output, len(idx))
	for i, j := range idx {
		res[i] = output{name: v.outputName(j), tensor: outs[j]}
	}
	return res, nil
}

// bind matches the request's inputs to forward's arguments by name (or INPUT__i) and
// checks datatype and shape; it returns the tensors in argument order.
func (v *version) bind(inputs []input) ([]engine.Tensor, error) {
	if len(inputs) != len(v.inputs) {
		return nil, ErrInvalid.withDetail("model %s takes %d inputs (%s), got %d", v.model, len(v.inputs), v.describeInputs(), len(inputs))
	}
	tensors := make([]engine.Tensor, len(v.inputs))
	seen := make([]bool, len(v.inputs))
	for _, in := range inputs {
		i := slices.IndexFunc(v.inputs, func(s tensorSpec) bool { return s.name == in.name || s.alias == in.name })
		if i < 0 {
			return nil, ErrInvalid.withDetail("unknown input %q: model %s takes %s", in.name, v.model, v.describeInputs())
		}
		if seen[i] {
			return nil, ErrInvalid.withDetail("input %q given twice", in.name)
		}
		seen[i] = true
		spec := v.inputs[i]
		if !compatible(spec.datatype, in.datatype) {
			return nil, ErrInvalid.withDetail("input %q: datatype %s, expected %s", in.name, in.datatype, spec.datatype)
		}
		if !shapeFits(spec.dims, in.tensor.Shape) {
			return nil, ErrInvalid.withDetail("input %q: shape %v, expected %v (-1: any size)", in.name, in.tensor.Shape, spec.dims)
		}
		tensors[i] = in.tensor
	}
	return tensors, nil
}

// describeInputs lists the inputs as name:datatype:dims.
func (v *version) describeInputs() string {
	parts := make([]string, len(v.inputs))
	for i, s := range v.inputs {
		parts[i] = fmt.Sprintf("%s %s %v", s.name, s.datatype, s.dims)
	}
	return strings.Join(parts, ", ")
}

// compatible reports whether a wire datatype can feed a model datatype: exactly, or FP64
// narrowed to FP32, or INT32 widened to INT64.
func compatible(model, wire string) bool {
	switch model {
	case repository.FP32:
		return wire == repository.FP32 || wire == dtFP64
	case repository.INT64:
		return wire == repository.INT64 || wire == dtINT32
	}
	return false
}

// shapeFits reports whether shape matches dims (-1 matches any size; nil dims match any
// shape).
func shapeFits(dims, shape []int) bool {
	if dims == nil {
		return true
	}
	if len(dims) != len(shape) {
		return false
	}
	for i, d := range dims {
		if d != -1 && d != shape[i] {
			return false
		}
	}
	return true
}

// pick returns the indexes of the requested outputs among n outputs named by specs (name
// or OUTPUT__i), or all of them when none is requested.
func pick(specs []tensorSpec, n int, req []requestedOutput) ([]int, error) {
	if req == nil {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	idx := make([]int, len(req))
	for k, r := range req {
		i := slices.IndexFunc(specs, func(s tensorSpec) bool { return s.name == r.name || s.alias == r.name })
		if i < 0 || i >= n {
			names := make([]string, len(specs))
			for j, s := range specs {
				names[j] = s.name
			}
			return nil, ErrInvalid.withDetail("unknown output %q: expected one of %s", r.name, strings.Join(names, ", "))
		}
		idx[k] = i
	}
	return idx, nil
}
