"""Where PyTorch's training step goes on the GPU: kernel times of bench/torch_bench.py's workload.

Usage: python3 torch_profile.py [--model resnet18] [--dataset cifar10] [--batch-size 128] [--no-tf32]
Runs --warmup untimed steps, then profiles --steps steps with torch.profiler (CUPTI kernel times)
and prints the GPU time per step by kernel class (convolution, batch norm, elementwise, optimizer,
other), the kernel launches per step, and the 15 costliest kernels: the PyTorch side of the
comparison with `KILN_PROFILE=1 kiln bench` (docs/benchmarks.md)."""
import argparse
import collections

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from kernel_classes import kernel_class
from torch_bench import LAYOUT, make_model


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resnet18")
    p.add_argument("--dataset", default="cifar10", choices=sorted(LAYOUT))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--no-tf32", action="store_true")
    a = p.parse_args()
    if a.no_tf32:
        torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    dev = torch.device("cuda")
    channels, size, classes = LAYOUT[a.dataset]
    model = make_model(a.model, channels, size, classes).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.randn(a.batch_size, channels, size, size, device=dev)
    y = torch.randint(0, classes, (a.batch_size,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(a.steps):
            step()
        torch.cuda.synchronize()
    per_class = collections.Counter()
    per_kernel = collections.Counter()
    launches = 0
    for e in prof.events():
        if e.device_type != torch.autograd.DeviceType.CUDA:
            continue
        us = e.device_time if hasattr(e, "device_time") else e.cuda_time
        per_class[kernel_class(e.name)] += us
        per_kernel[e.name] += us
        launches += 1
    total = sum(per_class.values())
    print(f"torch {torch.__version__} {a.model} bs={a.batch_size} cudnn_tf32={int(torch.backends.cudnn.allow_tf32)}: "
          f"GPU kernel time {total / a.steps / 1000:.2f} ms per step, {launches / a.steps:.0f} kernels per step")
    for cls, us in per_class.most_common():
        print(f"  {cls:20s} {us / a.steps / 1000:7.2f} ms/step  {100 * us / total:5.1f}%")
    print("costliest kernels (ms per step):")
    for name, us in per_kernel.most_common(15):
        print(f"  {us / a.steps / 1000:7.3f}  {name[:150]}")


if __name__ == "__main__":
    main()
