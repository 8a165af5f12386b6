package repository

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultMaxBatchSize   = 8
	DefaultInstances      = 1
	DefaultMaxQueueSize   = 256
	DefaultRequestTimeout = 30 * time.Second
)

// Datatypes a config may name (the Open Inference Protocol's names).
const (
	FP32  = "FP32"
	INT64 = "INT64"
)

// Config is a model's config.yaml. The zero value means every default.
type Config struct {
	// MaxBatchSize is the largest batch run at once; 1 turns batching off.
	MaxBatchSize int `yaml:"max_batch_size"`
	// MaxQueueDelay is how long the oldest queued request may wait for a fuller batch.
	MaxQueueDelay time.Duration `yaml:"max_queue_delay"`
	// PreferredBatchSizes are run as soon as they can be formed.
	PreferredBatchSizes []int `yaml:"preferred_batch_sizes"`
	// Instances is the number of model copies running batches concurrently.
	Instances int `yaml:"instances"`
	// MaxQueueSize bounds the queued requests; more are refused.
	MaxQueueSize int `yaml:"max_queue_size"`
	// RequestTimeout is the deadline of a request from its arrival.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// Inputs describe forward's arguments in order; empty means what the archive tells.
	Inputs []Tensor `yaml:"inputs"`
	// Outputs describe the outputs in order; empty means what the archive tells.
	Outputs []Tensor `yaml:"outputs"`
}

// Tensor describes one input or output.
type Tensor struct {
	// Name is the tensor's name in requests and responses.
	Name string `yaml:"name"`
	// Datatype is FP32 or INT64.
	Datatype string `yaml:"datatype"`
	// Dims is the shape with -1 for the batch axis and free sizes; empty means unknown.
	Dims []int `yaml:"dims"`
}

// ParseConfig reads a config strictly (unknown keys are errors) and validates it. An empty
// document is the zero Config.
func ParseConfig(r io.Reader) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, nil
}

// validate checks ranges and names.
func (c Config) validate() error {
	switch {
	case c.MaxBatchSize < 0:
		return fmt.Errorf("max_batch_size %d is negative", c.MaxBatchSize)
	case c.MaxQueueDelay < 0:
		return fmt.Errorf("max_queue_delay %v is negative", c.MaxQueueDelay)
	case c.Instances < 0:
		return fmt.Errorf("instances %d is negative", c.Instances)
	case c.MaxQueueSize < 0:
		return fmt.Errorf("max_queue_size %d is negative", c.MaxQueueSize)
	case c.RequestTimeout < 0:
		return fmt.Errorf("request_timeout %v is negative", c.RequestTimeout)
	}
	maxBatch := c.WithDefaults().MaxBatchSize
	for _, p := range c.PreferredBatchSizes {
		if p < 1 || p > maxBatch {
			return fmt.Errorf("preferred batch size %d is outside 1..max_batch_size (%d)", p, maxBatch)
		}
	}
	for kind, ts := range map[string][]Tensor{"input": c.Inputs, "output": c.Outputs} {
		seen := map[string]bool{}
		for i, t := range ts {
			if t.Name == "" {
				return fmt.Errorf("%s %d has no name", kind, i)
			}
			if seen[t.Name] {
				return fmt.Errorf("%s name %q is used twice", kind, t.Name)
			}
			seen[t.Name] = true
			if t.Datatype != FP32 && t.Datatype != INT64 {
				return fmt.Errorf("%s %q: datatype %q is not FP32 or INT64", kind, t.Name, t.Datatype)
			}
			if slices.ContainsFunc(t.Dims, func(d int) bool { return d < -1 }) {
				return fmt.Errorf("%s %q: dims %v hold a size below -1", kind, t.Name, t.Dims)
			}
		}
	}
	return nil
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxBatchSize == 0 {
		c.MaxBatchSize = DefaultMaxBatchSize
	}
	if c.Instances == 0 {
		c.Instances = DefaultInstances
	}
	if c.MaxQueueSize == 0 {
		c.MaxQueueSize = DefaultMaxQueueSize
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	return c
}
