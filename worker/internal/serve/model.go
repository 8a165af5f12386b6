package serve

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/torchgate/torchgate/worker/internal/batch"
	"github.com/torchgate/torchgate/worker/internal/engine"
	"github.com/torchgate/torchgate/worker/internal/repository"
)

// Model is a loaded model instance; *engine.Model implements it. Methods may be called
// concurrently.
type Model interface {
	// Inputs describes forward's arguments.
	Inputs() []engine.IO
	// Outputs describes the outputs (nil before the first run when the archive does not
	// tell them).
	Outputs() []engine.IO
	// Run computes the outputs.
	Run(ctx context.Context, inputs []engine.Tensor) ([]engine.Tensor, error)
}

var _ Model = (*engine.Model)(nil)

// ModelVersion is one version of a model to serve.
type ModelVersion struct {
	// Name is the model's name.
	Name string
	// Version is the version number.
	Version int64
	// Config is the model's config.yaml (zero: all defaults, IO from the archive).
	Config repository.Config
	// Instances are the model copies that run batches concurrently; at least one. The
	// first also answers metadata.
	Instances []Model
}

// tensorSpec describes one input or output as served.
type tensorSpec struct {
	name     string
	alias    string // INPUT__i / OUTPUT__i
	datatype string // "" when unknown (outputs before the first run)
	dims     []int  // nil when the rank is unknown
}

// version is a served model version.
type version struct {
	model   string
	number  string
	cfg     repository.Config // with defaults
	meta    Model
	inputs  []tensorSpec
	batcher *batch.Batcher
	obs     *versionMetrics
}

// newVersion builds the served form of mv; the caller starts its batcher.
func newVersion(mv ModelVersion) (*version, error) {
	if len(mv.Instances) == 0 {
		return nil, fmt.Errorf("serve: model %s version %d has no instance", mv.Name, mv.Version)
	}
	v := &version{
		model:  mv.Name,
		number: strconv.FormatInt(mv.Version, 10),
		cfg:    mv.Config.WithDefaults(),
		meta:   mv.Instances[0],
	}
	ios := v.meta.Inputs()
	if n := len(v.cfg.Inputs); n > 0 && n != len(ios) {
		return nil, fmt.Errorf("serve: model %s: config names %d inputs, forward takes %d", mv.Name, n, len(ios))
	}
	for i, io := range ios {
		s := tensorSpec{name: io.Name, alias: fmt.Sprintf("INPUT__%d", i), datatype: datatype(io.DType)}
		if len(io.Shape) > 0 {
			s.dims = slices.Clone(io.Shape)
		}
		if len(v.cfg.Inputs) > 0 {
			c := v.cfg.Inputs[i]
			s.name, s.datatype = c.Name, c.Datatype
			if len(c.Dims) > 0 {
				s.dims = slices.Clone(c.Dims)
			}
		}
		v.inputs = append(v.inputs, s)
	}
	return v, nil
}

// inputSpecs returns the input specs for metadata: an input whose dims neither the config
// nor the code tells shows the shape of the last run (batch axis -1), once there was one.
func (v *version) inputSpecs() []tensorSpec {
	specs := slices.Clone(v.inputs)
	live := v.meta.Inputs()
	for i := range specs {
		if specs[i].dims == nil && i < len(live) && len(live[i].Shape) > 0 {
			specs[i].dims = live[i].Shape
		}
	}
	return specs
}

// outputs returns the output specs: from the config, else from the model's last run.
func (v *version) outputs() []tensorSpec {
	if len(v.cfg.Outputs) > 0 {
		specs := make([]tensorSpec, len(v.cfg.Outputs))
		for i, c := range v.cfg.Outputs {
			specs[i] = tensorSpec{name: c.Name, alias: fmt.Sprintf("OUTPUT__%d", i), datatype: c.Datatype, dims: c.Dims}
		}
		return specs
	}
	ios := v.meta.Outputs()
	specs := make([]tensorSpec, len(ios))
	for i, io := range ios {
		name := fmt.Sprintf("OUTPUT__%d", i)
		specs[i] = tensorSpec{name: name, alias: name, datatype: datatype(io.DType), dims: io.Shape}
	}
	return specs
}

// outputName returns the served name of output i.
func (v *version) outputName(i int) string {
	if i < len(v.cfg.Outputs) {
		return v.cfg.Outputs[i].Name
	}
	return fmt.Sprintf("OUTPUT__%d", i)
}
