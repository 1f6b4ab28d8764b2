"""sensor_msgs/Image fields -> RGB uint8 array of the model's size (OpenCV resize), with clear errors."""

from __future__ import annotations

import cv2
import numpy as np

SUPPORTED_ENCODINGS = ("rgb8", "bgr8")


class ImageFormatError(ValueError):
    """An image message cannot be turned into an RGB frame (encoding, sizes or data length)."""


def image_to_rgb(encoding: str, height: int, width: int, step: int, data: bytes | bytearray | memoryview,
                 size: tuple[int, int]) -> np.ndarray:
    """Decode rgb8/bgr8 image data to RGB uint8 [size[0], size[1], 3]; `size` is (height, width) from gato.json."""
    if encoding not in SUPPORTED_ENCODINGS:
        raise ImageFormatError(f"unsupported image encoding {encoding!r}; expected one of {SUPPORTED_ENCODINGS}")
    if height <= 0 or width <= 0:
        raise ImageFormatError(f"image has no pixels ({width}x{height})")
    if step < 3 * width:
        raise ImageFormatError(f"step {step} is smaller than 3 * width = {3 * width}")
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size != step * height:
        raise ImageFormatError(f"image data has {buf.size} bytes, expected step*height = {step}*{height} = {step * height}")
    img = buf.reshape(height, step)[:, : 3 * width].reshape(height, width, 3)
    if encoding == "bgr8":
        img = img[:, :, ::-1]
    out_h, out_w = int(size[0]), int(size[1])
    if (height, width) != (out_h, out_w):
        interp = cv2.INTER_AREA if height > out_h or width > out_w else cv2.INTER_LINEAR
        img = cv2.resize(np.ascontiguousarray(img), (out_w, out_h), interpolation=interp)
    return np.ascontiguousarray(img)
