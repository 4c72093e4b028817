"""Steady-state GPU kernels of a training step from two kernel_trace.so totals.

Usage: python3 compare.py LONG.tsv SHORT.tsv STEPS
LONG and SHORT are the totals of the same program run for more and for fewer steps (same warm-up,
same autotuning); their difference is STEPS steps of steady state, free of start-up and of cuDNN's
algorithm timing. Prints GPU time and launches per step by kernel class (bench/kernel_classes.py,
as torch_profile.py prints PyTorch's) and the costliest kernels."""
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kernel_classes import kernel_class  # noqa: E402


def read(path):
    totals = {}
    with open(path) as f:
        for line in f:
            name, count, ns = line.rstrip("\n").rsplit("\t", 2)
            totals[name] = (int(count), int(ns))
    return totals


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    long_run, short_run, steps = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
    per_kernel, launches = {}, 0
    for name, (count, ns) in long_run.items():
        c0, ns0 = short_run.get(name, (0, 0))
        if count - c0 > 0:
            per_kernel[name] = (count - c0, ns - ns0)
            launches += count - c0
    per_class = collections.Counter()
    for name, (count, ns) in per_kernel.items():
        per_class[kernel_class(name)] += ns
    total = sum(per_class.values())
    print(f"GPU kernel time {total / steps / 1e6:.2f} ms per step, {launches / steps:.0f} kernels per step")
    for cls, ns in per_class.most_common():
        print(f"  {cls:20s} {ns / steps / 1e6:7.2f} ms/step  {100 * ns / max(total, 1):5.1f}%")
    print("costliest kernels (ms per step, launches per step):")
    for name, (count, ns) in sorted(per_kernel.items(), key=lambda kv: -kv[1][1])[:20]:
        print(f"  {ns / steps / 1e6:7.3f} {count / steps:6.1f}  {name[:150]}")


if __name__ == "__main__":
    main()
