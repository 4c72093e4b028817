#!/usr/bin/env python3
"""Writes tests/vision/fixtures/: torchvision's output for Kiln's deterministic image transforms.

tests/vision/transforms compares kiln::vision::transforms against these files within 1/255.
The fixtures are committed; run this only to regenerate them (it needs torch and torchvision):

    # Debian's python3-torch (1.13) plus torchvision 0.15.2 from PyPI without its dependencies:
    # torchvision's compiled extension does not load against Debian's torch, but the transforms
    # used here are pure Python on torch tensors.
    /usr/bin/python3 -m pip install --no-deps --target /tmp/tvpkgs torchvision==0.15.2 pillow
    PYTHONPATH=/tmp/tvpkgs /usr/bin/python3 scripts/make_vision_fixtures.py

Every case starts from one deterministic 17x23 RGB image (input_u8.kfx, also as input.png) and
applies torchvision.transforms (or .functional / .utils) to its float tensor ToTensor(image).

File format (.kfx, little-endian): b"KILNFIX1", uint32 dtype (0 = float32, 1 = uint8),
uint32 rank, rank x int64 extents, then the elements in row-major order.
"""
import os
import struct
import sys
import warnings

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from torchvision.utils import make_grid

warnings.filterwarnings("ignore")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "vision", "fixtures")
BL, NN = T.InterpolationMode.BILINEAR, T.InterpolationMode.NEAREST


def save(name, array):
    a = np.ascontiguousarray(array.numpy() if isinstance(array, torch.Tensor) else array)
    code = {np.dtype(np.float32): 0, np.dtype(np.uint8): 1}[a.dtype]
    with open(os.path.join(OUT, name + ".kfx"), "wb") as f:
        f.write(b"KILNFIX1" + struct.pack("<II", code, a.ndim) + struct.pack("<%dq" % a.ndim, *a.shape))
        f.write(a.astype(a.dtype.newbyteorder("<")).tobytes())


def input_image():
    """A 17x23 RGB uint8 image with gradients, a hard edge and saturated colours."""
    h, w = 17, 23
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 11 + y * 3) % 256
    g = (y * 15 + (x * x) % 37) % 256
    b = np.where((x // 4 + y // 3) % 2 == 0, 230, 20) + (x + y) % 7
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    img = input_image()
    save("input_u8", img)
    try:  # the same pixels as a PNG, for the decode test
        from PIL import Image
        Image.fromarray(img).save(os.path.join(OUT, "input.png"))
    except ImportError:
        pass
    x = T.ToTensor()(img)  # float32 [3, 17, 23]
    cases = {
        "to_tensor": x,
        "normalize": T.Normalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.3])(x),
        "resize_bilinear_10": T.Resize(10, interpolation=BL, antialias=False)(x),
        "resize_bilinear_29x37": T.Resize((29, 37), interpolation=BL, antialias=False)(x),
        "resize_bilinear_8x30": T.Resize((8, 30), interpolation=BL, antialias=False)(x),
        "resize_nearest_10": T.Resize(10, interpolation=NN)(x),
        "resize_nearest_29x37": T.Resize((29, 37), interpolation=NN)(x),
        "resize_nearest_34x46": T.Resize((34, 46), interpolation=NN)(x),
        "center_crop_8x12": T.CenterCrop((8, 12))(x),
        "center_crop_10": T.CenterCrop(10)(x),
        "center_crop_20x26": T.CenterCrop((20, 26))(x),
        "pad_constant": T.Pad((1, 2, 3, 4), fill=0.5)(x),
        "pad_reflect": T.Pad((3, 2, 4, 5), padding_mode="reflect")(x),
        "pad_edge": T.Pad(3, padding_mode="edge")(x),
        "pad_symmetric": T.Pad((2, 3), padding_mode="symmetric")(x),
        "grayscale_1": T.Grayscale(1)(x),
        "grayscale_3": T.Grayscale(3)(x),
        "hflip": F.hflip(x),
        "vflip": F.vflip(x),
        "rotate_bilinear_30": F.rotate(x, 30.0, interpolation=BL),
        "rotate_nearest_30_fill": F.rotate(x, 30.0, interpolation=NN, fill=[0.2, 0.4, 0.6]),
        "rotate_bilinear_37_expand_fill": F.rotate(x, 37.0, interpolation=BL, expand=True, fill=[1.0]),
        "rotate_bilinear_m20_center": F.rotate(x, -20.0, interpolation=BL, center=[5, 4]),
        "adjust_brightness_1.3": F.adjust_brightness(x, 1.3),
        "adjust_contrast_0.6": F.adjust_contrast(x, 0.6),
        "adjust_saturation_1.7": F.adjust_saturation(x, 1.7),
        "adjust_hue_0.23": F.adjust_hue(x, 0.23),
        "adjust_hue_m0.4": F.adjust_hue(x, -0.4),
        "resized_crop": F.resized_crop(x, 2, 3, 11, 14, [9, 9], interpolation=BL, antialias=False),
    }
    batch = torch.stack([x[:, i:i + 6, 2 * i:2 * i + 7] for i in range(5)])  # [5, 3, 6, 7]
    cases["make_grid"] = make_grid(batch, nrow=3, padding=1, normalize=True, pad_value=0.25)
    cases["make_grid_gray"] = make_grid(batch[:, :1] * 2 - 0.5, nrow=2, padding=2, normalize=True, scale_each=True)
    for name, value in cases.items():
        save(name, value.contiguous())
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("Made by scripts/make_vision_fixtures.py with torchvision %s on torch %s; see that script for the "
                "cases and the .kfx format. Regenerate rather than edit.\n" % (torchvision.__version__, torch.__version__))
    print("wrote %d fixtures to %s" % (len(cases) + 1, os.path.abspath(OUT)))


if __name__ == "__main__":
    main()
