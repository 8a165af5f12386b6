package edge

import "errors"

// Errors returned while loading and compiling a bootstrap. Wrapped errors name the file, the
// field path and the value involved.
var (
	// ErrInvalid reports an envoy.yaml that Envoy itself would reject: bad YAML, a field or type
	// unknown to the v3 API, or a value that fails the protos' validation rules.
	ErrInvalid = errors.New("edge: invalid envoy configuration")
	// ErrUnsupported reports a valid Envoy configuration that uses a feature the dev edge does
	// not implement.
	ErrUnsupported = errors.New("edge: unsupported by the dev edge")
)
