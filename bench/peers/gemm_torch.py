"""PyTorch (cuBLAS) GEMM peer of lpbench's GEMM benchmark (bench/gemm.ts).

Times C = A·Bᵀ for square f32 problems with TF32 off (cuBLAS's non-tensor-core f32 GEMM, the
baseline lpbench's f32 GEMM is compared with) and on, and BF16 for scale. Each size runs ≥200 ms
of untimed GEMMs first (working clocks, as bench/warm_timing.ts does), then the median of
`--iterations` CUDA-event-timed runs. TFLOP/s = 2·M·N·K / median.

Usage: python3 bench/peers/gemm_torch.py [--sizes 4096,8192] [--iterations 10]
Prints a markdown table.
"""

import argparse
import statistics
import time

import torch


def time_gemm(n, dtype, tf32, iterations):
    """Median milliseconds of one n³ GEMM in `dtype` (TF32 on or off for f32)."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    end = time.perf_counter() + 0.2
    while time.perf_counter() < end:
        torch.mm(a, b.t())
        torch.cuda.synchronize()
    times = []
    for _ in range(iterations):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.mm(a, b.t())
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="4096,8192")
    p.add_argument("--iterations", type=int, default=10)
    args = p.parse_args()
    print(f"## PyTorch {torch.__version__} GEMM on {torch.cuda.get_device_name()}\n")
    print("| size | dtype | median ms | TFLOP/s |")
    print("|---:|---|---:|---:|")
    for n in [int(s) for s in args.sizes.split(",")]:
        for label, dtype, tf32 in [
            ("fp32, TF32 off", torch.float32, False),
            ("fp32, TF32 on", torch.float32, True),
            ("bf16", torch.bfloat16, False),
        ]:
            ms = time_gemm(n, dtype, tf32, args.iterations)
            print(f"| {n} | {label} | {ms:.3f} | {2 * n**3 / ms / 1e9:.1f} |")


if __name__ == "__main__":
    main()
