// Package cli is the worker's command line, shared by the CPU build (cmd/worker) and the
// GPU build (cuda/cmd/worker): inspect prints a model's inputs, op counts and parameters
// (exit 1 listing every unsupported op), run runs a model on NumPy .npy files, serve
// answers the Open Inference Protocol over REST and gRPC for a Triton-layout model
// repository until SIGTERM or SIGINT, then shuts down gracefully.
//
// A build chooses its devices through [Options]: without [CUDA] every model runs on the
// CPU and --device cuda fails pointing at the GPU build; with it, --device picks the GPU
// (cuda), the CPU (cpu) or the GPU when one is usable (auto), and each model instance gets
// its own backend.
package cli
