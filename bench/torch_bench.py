"""PyTorch's side of `kiln bench --synthetic`: the same models, optimizer and timing on random data.

Usage: python3 torch_bench.py --model resnet18 --dataset cifar10 --batch-size 128 --device cuda
Prints one line in `kiln bench`'s format (train and inference samples per second), so both can be
compared in one run on the same machine. Synthetic data: a pool of 16 random batches cycled
through; --warmup untimed steps (cuDNN autotuning, allocator warm-up), then --steps timed steps per
epoch; inference over 10,000 random images in batches of 1,000 without gradients. The device is
synchronized before every clock read. The models are those of vision/src/models.cpp (ResNet with
the CIFAR stem for 32x32 inputs: 3x3 stride-1 first convolution, no max pool)."""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

LAYOUT = {"fashion-mnist": (1, 28, 10), "mnist": (1, 28, 10), "kmnist": (1, 28, 10),
          "cifar10": (3, 32, 10), "cifar100": (3, 32, 100)}


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


def resnet(blocks, channels, size, classes):
    if size <= 32:
        layers = [nn.Conv2d(channels, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    else:
        layers = [nn.Conv2d(channels, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for stage, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for b in range(n):
            layers.append(BasicBlock(cin, width, 2 if stage > 0 and b == 0 else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


def make_model(name, channels, size, classes):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, 256), nn.ReLU(), nn.Linear(256, 128),
                             nn.ReLU(), nn.Linear(128, classes))
    if name == "lenet":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                             nn.Linear(84, classes))
    if name == "cnn-bn":
        layers, cin, s = [], channels, size
        for width in (32, 64, 128):
            for _ in range(2):
                layers += [nn.Conv2d(cin, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
                cin = width
            layers.append(nn.MaxPool2d(2))
            s //= 2
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * s * s, 256), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(256, classes))
    if name in ("resnet18", "resnet34"):
        return resnet((2, 2, 2, 2) if name == "resnet18" else (3, 4, 6, 3), channels, size, classes)
    raise SystemExit(f"unknown model {name}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="lenet")
    p.add_argument("--dataset", default="fashion-mnist", choices=sorted(LAYOUT))
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    p.add_argument("--no-tf32", action="store_true", help="forbid TF32 in cuDNN convolutions (PyTorch allows it by default)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.no_tf32:
        torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True  # algorithm chosen once per shape, as Kiln's cuDNN path does
    torch.manual_seed(0)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    channels, size, classes = LAYOUT[a.dataset]
    model = make_model(a.model, channels, size, classes).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    bs = a.batch_size
    xtr = torch.randn(16 * bs, channels, size, size, device=dev)
    ytr = torch.randint(0, classes, (16 * bs,), device=dev)
    xte = torch.randn(10000, channels, size, size, device=dev)
    yte = torch.randint(0, classes, (10000,), device=dev)

    def step(i):
        s = (i % 16) * bs
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xtr[s:s + bs]), ytr[s:s + bs]).backward()
        opt.step()

    model.train()
    for i in range(a.warmup):
        step(i)
    sync()
    train_s = 0.0
    for _ in range(a.epochs):
        t = time.perf_counter()
        for i in range(a.steps):
            step(i)
        sync()
        train_s += time.perf_counter() - t
    model.eval()
    with torch.no_grad():  # one untimed batch: the inference shapes' first run
        model(xte[:1000]).argmax(1)
    sync()
    t = time.perf_counter()
    with torch.no_grad():
        hits = torch.zeros((), dtype=torch.int64, device=dev)
        for i in range(0, xte.shape[0], 1000):
            hits += (model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum()
        hits.item()
    infer_s = time.perf_counter() - t
    tf32 = "" if dev.type != "cuda" else f" cudnn_tf32={int(torch.backends.cudnn.allow_tf32)}"
    print(f"torch {torch.__version__} device={dev} model={a.model} data={a.dataset}(synthetic) bs={bs} epochs={a.epochs}"
          f" train_samples_per_s={a.steps * a.epochs * bs / train_s:.0f} infer_samples_per_s={xte.shape[0] / infer_s:.0f}"
          f" steps={a.steps} warmup={a.warmup}{tf32}", flush=True)


if __name__ == "__main__":
    main()
