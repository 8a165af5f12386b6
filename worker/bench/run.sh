#!/usr/bin/env bash
# Engine-vs-PyTorch benchmark (issue 5): for each case (model, batch, threads) it runs our
# engine (bench/enginebench) and PyTorch (bench/torchbench.py, Debian's python3-torch) on the
# same archive, batch and thread count, alternating the two ROUNDS times, and prints the
# median throughput of each, their ratio and the CPU time per item; then the peak RSS after
# loading ResNet-50 relative to its parameter bytes.
#
# Usage (from anywhere): worker/bench/run.sh
# Environment: ROUNDS (default 5), SECONDS_PER_RUN (default 1), THREADS ("1 2"),
# PYTHON (/usr/bin/python3). Needs the large fixtures:
#   cd worker/testdata && /usr/bin/python3 gen.py gen/torch113 --large --resnet50
# and libopenblas0-pthread for a fair PyTorch baseline (see DESIGN.md).
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-1}
THREADS=${THREADS:-"1 2"}
PYTHON=${PYTHON:-/usr/bin/python3}
fixtures=testdata

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/enginebench" ./bench/enginebench

# name archive shape batches
cases=(
	"mlp torch113/mlp_frozen.pt 16 1,64"
	"resnet18 gen/torch113/resnet18_frozen.pt 3,224,224 1,8"
	"transformer torch113/transformer.pt 5,16 8"
)

# median prints the median of the first field of its input lines, and of the second.
median() {
	sort -n -k1,1 "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
	sort -n -k2,2 "$1" | awk '{a[NR]=$2} END {print a[int((NR+1)/2)]}'
}

echo "torch $("$PYTHON" -c 'import torch; print(torch.__version__)'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "blas: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)"
echo "medians of $ROUNDS alternating runs of >= ${SECONDS_PER_RUN}s each; cpu = process CPU µs per item (all threads)"
echo "ratio = ours/torch throughput; cpu ratio = torch/ours CPU time per item (robust to a busy machine)"
printf '%-24s %12s %12s %7s %10s %10s %9s\n' case "ours item/s" "torch item/s" ratio "ours cpu" "torch cpu" "cpu ratio"
for threads in $THREADS; do
	for c in "${cases[@]}"; do
		read -r name archive shape batches <<<"$c"
		if [[ ! -f $fixtures/$archive ]]; then
			echo "$name: $fixtures/$archive absent (run gen.py --large), skipped"
			continue
		fi
		for batch in ${batches//,/ }; do
			: >"$tmp/ours"
			: >"$tmp/torch"
			for _ in $(seq "$ROUNDS"); do
				GOMAXPROCS=$threads "$tmp/enginebench" -archive "$fixtures/$archive" -shape "$shape" \
					-batch "$batch" -threads "$threads" -seconds "$SECONDS_PER_RUN" >>"$tmp/ours"
				OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads \
					"$PYTHON" bench/torchbench.py "$fixtures/$archive" "$shape" "$batch" "$threads" \
					"$SECONDS_PER_RUN" >>"$tmp/torch"
			done
			mapfile -t o < <(median "$tmp/ours")
			mapfile -t t < <(median "$tmp/torch")
			printf '%-24s %12.1f %12.1f %6.2fx %10.2f %10.2f %8.2fx\n' "$name/b$batch/t$threads" \
				"${o[0]}" "${t[0]}" "$(awk -v a="${o[0]}" -v b="${t[0]}" 'BEGIN {print a / b}')" "${o[1]}" "${t[1]}" \
				"$(awk -v a="${o[1]}" -v b="${t[1]}" 'BEGIN {print b / a}')"
		done
	done
done

r50=$fixtures/gen/torch113/resnet50.pt
if [[ -f $r50 ]]; then
	for batch in 1 8; do
		read -r params load run < <("$tmp/enginebench" -rss -archive "$r50" -shape 3,224,224 -batch "$batch" -threads 1)
		awk -v p="$params" -v l="$load" -v r="$run" -v b="$batch" 'BEGIN {
			printf "resnet50 peak RSS (VmHWM), params %.1f MB: after Load %.1f MB = %.2fx, after Load + one Run at batch %d %.1f MB = %.2fx\n",
				p / 1e6, l / 1e6, l / p, b, r / 1e6, r / p }'
	done
else
	echo "resnet50: $r50 absent (run gen.py --large --resnet50), RSS skipped"
fi
