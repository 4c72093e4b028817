"""Replays a kiln_lenet_parity run in PyTorch: the same LeNet-5 and recipe as
shared/bench/torch_fmnist.py (SGD lr 0.05 momentum 0.9, batch 64, last partial batch dropped,
Fashion-MNIST normalized with 0.2860/0.3530), started from Kiln's initial weights and fed Kiln's
permutation, and compares the per-step losses and the test accuracy.

  python3 torch_parity.py DIR                  # Kiln's weights and batches
  python3 torch_parity.py DIR --init torch:S   # PyTorch's own initialisation (seed S) instead
  python3 torch_parity.py DIR --perm torch:S   # torch.randperm with seed S instead
  python3 torch_parity.py --seed S             # neither: plain torch_fmnist.py with seed S (no DIR)
  --threads N (default 2) changes only PyTorch's summation order; --save-losses FILE and
  --compare-losses FILE measure how far two replays drift apart (the chaos of SGD, not a bug).
"""
import argparse, gzip, os, struct, sys
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

D = "/usr/share/datasets/fashion-mnist/"


def idx(path):
    with gzip.open(D + path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        r, c = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, r, c)
    return np.frombuffer(data, np.uint8, offset=8)


def lenet():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--init", default="kiln")
    ap.add_argument("--perm", default="kiln")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save-losses")
    ap.add_argument("--compare-losses")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.dir is None:
        a.init = a.perm = "torch:%d" % a.seed
    xtr = torch.from_numpy(idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    ytr = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    yte = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    xtr = (xtr - 0.2860) / 0.3530
    xte = (xte - 0.2860) / 0.3530

    # the order of torch_fmnist.py: seed, model (initialisation), then the epoch's randperm
    if a.init.startswith("torch:"):
        torch.manual_seed(int(a.init.split(":")[1]))
    model = lenet()
    if a.init == "kiln":
        params = list(model.parameters())
        lines = open(os.path.join(a.dir, "params.txt")).read().split("\n")
        shapes = [tuple(int(v) for v in l.split()[1:]) for l in lines if l.strip()]
        assert len(shapes) == len(params), (len(shapes), len(params))
        with torch.no_grad():
            for i, (p, shape) in enumerate(zip(params, shapes)):
                assert tuple(p.shape) == shape, (i, p.shape, shape)
                raw = np.fromfile(os.path.join(a.dir, "param_%d.f32" % i), dtype="<f4").reshape(shape)
                p.copy_(torch.from_numpy(raw))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    n, bs = xtr.shape[0], 64
    if a.perm == "kiln":
        perm = torch.from_numpy(np.fromfile(os.path.join(a.dir, "perm.i64"), dtype="<i8"))
    else:
        if a.init != a.perm:
            torch.manual_seed(int(a.perm.split(":")[1]))
        perm = torch.randperm(n)
    losses = []
    model.train()
    for i in range(0, n - bs + 1, bs):
        b = perm[i:i + bs]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xtr[b]), ytr[b])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, xte.shape[0], 1000):
            correct += (model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
    acc = correct / xte.shape[0]
    print("torch %s init=%s perm=%s steps=%d mean_loss=%.4f last100_loss=%.4f test_acc=%.4f" % (
        torch.__version__, a.init, a.perm, len(losses), np.mean(losses), np.mean(losses[-100:]), acc))
    if a.save_losses:
        open(a.save_losses, "w").write("".join("%.9g\n" % v for v in losses))
    other, label = None, ""
    if a.compare_losses:
        other, label = [float(v) for v in open(a.compare_losses).read().split()], "other"
    elif a.dir is not None and os.path.exists(os.path.join(a.dir, "losses.txt")):
        other, label = [float(v) for v in open(os.path.join(a.dir, "losses.txt")).read().split()], "kiln"
        kiln_acc = float(open(os.path.join(a.dir, "result.txt")).read())
        print("kiln  mean_loss=%.4f last100_loss=%.4f test_acc=%.4f" % (np.mean(other), np.mean(other[-100:]), kiln_acc))
    if other is not None and a.init == "kiln" and a.perm == "kiln":
        m = min(len(other), len(losses))
        d = np.abs(np.array(other[:m]) - np.array(losses[:m]))
        for s in (1, 10, 25, 50, 100, 200, m):
            s = min(s, m)
            print("  steps 1-%d: max |loss_%s - loss_torch| = %.2e" % (s, label, d[:s].max()))


if __name__ == "__main__":
    main()
