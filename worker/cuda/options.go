package cuda

// Options configures a Backend. The zero value uses device 0, TF32 GEMMs and no memory
// limit beyond the GPU's.
type Options struct {
	// Device is the CUDA device ordinal.
	Device int
	// ExactFP32 turns TF32 tensor-core GEMMs off: full FP32 products, slower, matching
	// the CPU engine to about 1e-5 relative.
	ExactFP32 bool
	// MemoryLimit caps the bytes the backend's memory pool holds (0: no cap).
	MemoryLimit int64
}
