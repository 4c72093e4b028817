"""Kernel classes shared by torch_profile.py and kernel_trace/compare.py, so both sides of a
comparison group GPU kernels the same way (by name)."""


def kernel_class(name):
    n = name.lower()
    if any(k in n for k in ("conv", "dgrad", "wgrad", "implicit_gemm", "implicit_convolve", "xmma", "sm90_", "sm80_",
                            "cutlass", "winograd", "fft", "precomputed", "gemm")):
        return "convolution/gemm"
    if "batch_norm" in n or "batchnorm" in n or "bn_" in n or "welford" in n:
        return "batch norm"
    if "multi_tensor" in n or "foreach" in n or "sgd" in n:
        return "optimizer"
    if "pool" in n:
        return "pooling"
    if "softmax" in n or "nll" in n or "cross_entropy" in n:
        return "softmax/loss"
    if "elementwise" in n or "vectorized" in n or "unrolled" in n or "reduce" in n or "kiln" in n:
        return "elementwise/reduce"
    return "other"
