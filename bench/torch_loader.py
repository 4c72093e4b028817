"""PyTorch's side of `kiln bench --loader`: torchvision's FashionMNIST through its DataLoader.

Usage: python3 torch_loader.py [--data-dir /usr/share/datasets/fashion-mnist] [--workers 0 2]
The same work as Kiln's: one shuffled epoch of the 60,000 training images, each turned into a PIL
image and put through transforms.ToTensor and Normalize((0.2860,), (0.3530,)) by the dataset,
collated in batches of 64; images per second for each worker count. torchvision reads the IDX
files from <tmp>/FashionMNIST/raw, so the Debian .gz files are unpacked there first."""
import argparse
import gzip
import os
import shutil
import tempfile
import time

import torch
import torchvision
from torchvision import datasets, transforms


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    a = p.parse_args()
    torch.set_num_threads(1)
    root = tempfile.mkdtemp(prefix="torch-fmnist-")
    raw = os.path.join(root, "FashionMNIST", "raw")
    os.makedirs(raw)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        with gzip.open(os.path.join(a.data_dir, name + ".gz"), "rb") as src, open(os.path.join(raw, name), "wb") as dst:
            shutil.copyfileobj(src, dst)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    ds = datasets.FashionMNIST(root, train=True, transform=tf, download=False)
    for workers in a.workers:
        loader = torch.utils.data.DataLoader(ds, batch_size=a.batch_size, shuffle=True, num_workers=workers,
                                             generator=torch.Generator().manual_seed(0))
        t = time.perf_counter()
        images = 0
        for x, _ in loader:
            images += x.shape[0]
        s = time.perf_counter() - t
        print(f"torchvision {torchvision.__version__} torch {torch.__version__} loader data=fashion-mnist "
              f"bs={a.batch_size} workers={workers} images={images} seconds={s:.2f} images_per_s={images / s:.0f}",
              flush=True)
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
