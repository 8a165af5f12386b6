#!/usr/bin/env bash
# GPU check of the CUDA backend (worker/cuda), in two halves (see worker/cuda/README.md):
#
#   scripts/gpu-check.sh --kit
#       On a build machine (no GPU needed): builds the GPU worker and the backend's test
#       binary with -tags cuda against the CUDA headers and link stubs, into .cache/gpu-check
#       (about 15 MB). The GPU machine has no Go toolchain; this folder travels to it.
#
#   scripts/gpu-check.sh
#       On the GPU machine (x86-64, NVIDIA driver, python3 with torch; no network), from the
#       repository root with .cache/gpu-check present: generates ResNet-50 with golden outputs,
#       runs the golden tests on the GPU (TF32 and exact FP32), smoke-runs the worker binary,
#       runs the GPU benchmark and PyTorch's on the same GPU, and writes everything to $OUT
#       (default .cache/gpu-check-out). Every step has a timeout; the whole stays under 8
#       minutes. Exit status: 0 when the golden tests pass.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kit=$root/.cache/gpu-check

if [[ ${1:-} == --kit ]]; then
  set -e
  cd "$root"
  eval "$("$root/../shared/tools/cuda-sdk.sh" "$root/.cache/cuda-sdk")"
  mkdir -p "$kit"
  go build -tags cuda -trimpath -ldflags=-s -o "$kit/worker" ./worker/cuda/cmd/worker
  go test -c -tags cuda -trimpath -ldflags=-s -o "$kit/cuda.test" ./worker/cuda
  ls -l "$kit"
  exit 0
fi

out=${OUT:-$root/.cache/gpu-check-out}
mkdir -p "$out"
exec > >(tee "$out/gpu-check.log") 2>&1
start=$SECONDS
step() { echo "== $* ($((SECONDS - start)) s)"; }
[[ -x $kit/cuda.test && -x $kit/worker ]] || { echo "no $kit: build it with scripts/gpu-check.sh --kit and carry it"; exit 2; }

step "machine"
date -u +%Y-%m-%dT%H:%M:%SZ | tee "$out/date.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv | tee "$out/gpu.txt"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee -a "$out/gpu.txt"

# cuBLAS: the binaries dlopen it; PyTorch's wheels ship it under site-packages/nvidia.
cublas=$(python3 - <<'PY'
import glob, os, site, torch
roots = site.getsitepackages() + [os.path.dirname(os.path.dirname(torch.__file__))]
for r in roots:
    for pat in ("nvidia/cublas/lib/libcublas.so.*", "nvidia/cu*/lib/libcublas.so.*", "torch/lib/libcublas.so.*"):
        hits = sorted(f for f in glob.glob(os.path.join(r, pat)) if "Lt" not in os.path.basename(f))
        if hits:
            print(hits[-1]); raise SystemExit
PY
)
if [[ -n $cublas ]]; then
  export TORCHGATE_CUBLAS=$cublas LD_LIBRARY_PATH=$(dirname "$cublas")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
echo "cuBLAS: ${cublas:-not found under site-packages, using the loader path}" | tee -a "$out/gpu.txt"

step "models (ResNet-50 traced by this machine's torch, golden outputs on its CPU)"
export TORCHGATE_GPU_MODELS=${TMPDIR:-/tmp}/torchgate-gpu-models
timeout 120 python3 "$root/worker/cuda/testdata/gpu_torch.py" models "$TORCHGATE_GPU_MODELS"

cd "$root/worker/cuda"
step "golden tests on the GPU"
timeout 150 "$kit/cuda.test" -test.run 'TestGPU' -test.v > "$out/golden.txt" 2>&1
golden=$?
grep -E '^(--- |=== RUN|ok|FAIL|PASS)|diff|Error|error' "$out/golden.txt" | grep -v '=== RUN' | tail -80
echo "golden tests: exit $golden"

step "worker binary smoke run"
timeout 60 "$kit/worker" devices
timeout 60 "$kit/worker" run ../testdata/torch113/cnn.pt --input ../testdata/torch113/cnn_b4_in0.npy \
  --output "$out/cnn_b4_out0.npy" --device cuda

step "GPU benchmark (torchgate)"
timeout 170 "$kit/cuda.test" -test.run '^$' -test.bench 'BenchmarkGPU' -test.benchtime 1s > "$out/bench-go.txt" 2>&1
cat "$out/bench-go.txt"

step "GPU benchmark (PyTorch eager on the same GPU)"
timeout 120 python3 "$root/worker/cuda/testdata/gpu_torch.py" bench "$TORCHGATE_GPU_MODELS" \
  ../testdata/torch113/transformer.pt > "$out/bench-torch.txt" 2>&1
cat "$out/bench-torch.txt"

step "report"
python3 "$root/worker/cuda/testdata/gpu_torch.py" report "$out/bench-go.txt" "$out/bench-torch.txt" | tee "$out/bench.md"
rm -rf "$TORCHGATE_GPU_MODELS" # 100 MB of archive and fixtures, kept out of $OUT
step "done"
exit $golden
