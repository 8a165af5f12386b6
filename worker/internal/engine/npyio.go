package engine

import (
	"errors"
	"fmt"
	"os"

	"github.com/torchgate/torchgate/worker/internal/npy"
)

// ReadNPY reads a .npy file as a model input: integer arrays become Int64 tensors, float
// arrays Float32 tensors.
func ReadNPY(path string) (Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return Tensor{}, fmt.Errorf("engine: %w", err)
	}
	defer f.Close()
	shape, dt, data, err := npy.Read(f)
	if err != nil {
		return Tensor{}, fmt.Errorf("engine: %s: %w", path, err)
	}
	t := Tensor{Shape: shape}
	switch dt {
	case npy.Int64, npy.Int32, npy.Int16, npy.Int8, npy.Uint8:
		t.Int64, err = npy.ToInt64(dt, data)
	default:
		t.Float32, err = npy.ToFloat32(dt, data)
	}
	if err != nil {
		return Tensor{}, fmt.Errorf("engine: %s: %w", path, err)
	}
	return t, nil
}

// WriteNPY writes a tensor as a .npy file (<f4 or <i8).
func WriteNPY(path string, t Tensor) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if t.Int64 != nil {
		return npy.Write(f, t.Shape, npy.Int64, npy.EncodeInt64(t.Int64))
	}
	return npy.Write(f, t.Shape, npy.Float32, npy.EncodeFloat32(t.Float32))
}
