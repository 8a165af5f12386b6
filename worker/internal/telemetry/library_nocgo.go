//go:build !cgo

package telemetry

// Library is the NVML API the Collector reads. NVML needs cgo, so in this
// build (CGO_ENABLED=0) it is a placeholder that the Collector ignores: it
// always reports telemetry unavailable.
type Library interface{}

// newSampler returns a sampler whose init fails with ErrNoCgo.
func newSampler(Library) sampler { return noCgoSampler{} }

// noCgoSampler stands in for NVML in builds without cgo.
type noCgoSampler struct{}

func (noCgoSampler) init() error                     { return ErrNoCgo }
func (noCgoSampler) sample() ([]deviceSample, error) { return nil, ErrNoCgo }
func (noCgoSampler) shutdown() error                 { return nil }
