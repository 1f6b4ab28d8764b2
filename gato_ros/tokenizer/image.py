"""Images: resize policy, 16x16 patches in raster order, pixels to [-1, 1] then / sqrt(16), patch spans.

Resize policy: centre-crop the input to the target aspect ratio (no distortion), then resize with
OpenCV INTER_AREA to (image_height, image_width). Inputs are HxWx3 uint8 RGB.
"""

from __future__ import annotations

import cv2
import numpy as np


def preprocess_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HxWx3 uint8 RGB -> size[0] x size[1] x 3 uint8, centre-cropped to the target aspect then resized."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {img.shape}")
    if img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {img.dtype}")
    h, w = img.shape[:2]
    th, tw = size
    if (h, w) == (th, tw):
        return img
    target = tw / th
    if w / h > target:  # too wide: crop columns
        cw = max(1, int(round(h * target)))
        x0 = (w - cw) // 2
        img = img[:, x0:x0 + cw]
    elif w / h < target:  # too tall: crop rows
        ch = max(1, int(round(w / target)))
        y0 = (h - ch) // 2
        img = img[y0:y0 + ch]
    return cv2.resize(np.ascontiguousarray(img), (tw, th), interpolation=cv2.INTER_AREA)


def image_to_patches(image: np.ndarray, patch: int = 16) -> np.ndarray:
    """H x W x 3 uint8 -> [P, 3, patch, patch] float32 in raster order, (pixel/127.5 - 1) / sqrt(patch)."""
    img = np.asarray(image)
    h, w, c = img.shape
    if h % patch or w % patch:
        raise ValueError(f"image {h}x{w} is not a multiple of the {patch}-pixel patch size")
    x = img.astype(np.float32) / 127.5 - 1.0
    x = x.reshape(h // patch, patch, w // patch, patch, c).transpose(0, 2, 4, 1, 3)
    return (x.reshape(-1, c, patch, patch) / np.sqrt(patch)).astype(np.float32)


def patch_spans(height: int, width: int, patch: int = 16) -> np.ndarray:
    """[P, 4] (row_start, row_end, col_start, col_end) of each patch, normalized to [0, 1], raster order."""
    rows, cols = height // patch, width // patch
    r = np.arange(rows, dtype=np.float32)
    c = np.arange(cols, dtype=np.float32)
    rr, cc = np.meshgrid(r, c, indexing="ij")
    spans = np.stack([rr / rows, (rr + 1) / rows, cc / cols, (cc + 1) / cols], axis=-1)
    return spans.reshape(-1, 4).astype(np.float32)
