"""Images: resize/crop policy, 16x16 raster-order patches, [-1, 1] / 4 normalization, patch spans."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gato_ros.tokenizer import image_to_patches, patch_spans, preprocess_image


def test_patch_order_and_normalization_on_a_hand_made_image():
    img = np.zeros((32, 48, 3), np.uint8)
    for r in range(2):
        for c in range(3):
            img[r * 16:(r + 1) * 16, c * 16:(c + 1) * 16] = 10 * (r * 3 + c)
    img[0, 0] = [255, 0, 128]
    img[17, 35] = [7, 8, 9]  # patch (row 1, col 2) = index 5, pixel (1, 3) inside it
    p = image_to_patches(img)
    assert p.shape == (6, 3, 16, 16) and p.dtype == np.float32
    for k in range(6):  # raster order: row-major over patches
        assert p[k, 0, 5, 5] == pytest.approx((10 * k / 127.5 - 1) / 4)
    assert p[0, :, 0, 0] == pytest.approx([(255 / 127.5 - 1) / 4, -0.25, (128 / 127.5 - 1) / 4], abs=1e-6)
    assert p[5, :, 1, 3] == pytest.approx([(v / 127.5 - 1) / 4 for v in (7, 8, 9)], abs=1e-6)  # channel-first
    assert p.min() >= -0.25 and p.max() <= 0.25
    assert image_to_patches(np.full((16, 16, 3), 255, np.uint8)).max() == pytest.approx(0.25)
    assert image_to_patches(np.zeros((16, 16, 3), np.uint8)).min() == pytest.approx(-0.25)


def test_patch_spans_raster_order_normalized():
    spans = patch_spans(32, 48)
    assert spans.shape == (6, 4)
    assert spans[0].tolist() == pytest.approx([0, 0.5, 0, 1 / 3])
    assert spans[4].tolist() == pytest.approx([0.5, 1.0, 1 / 3, 2 / 3])
    assert spans[5].tolist() == pytest.approx([0.5, 1.0, 2 / 3, 1.0])
    s64 = patch_spans(64, 64)
    assert len(s64) == 16 and s64.min() == 0 and s64.max() == 1
    assert np.allclose(s64[:, 1] - s64[:, 0], 0.25) and np.allclose(s64[:, 3] - s64[:, 2], 0.25)


def test_preprocess_crops_to_aspect_then_resizes():
    wide = np.zeros((60, 100, 3), np.uint8)
    wide[:, 20:80] = 200  # only the centre 60x60 survives the crop
    out = preprocess_image(wide, (32, 32))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8 and out.min() == 200
    tall = np.zeros((100, 60, 3), np.uint8)
    tall[20:80] = 100
    assert preprocess_image(tall, (64, 64)).min() == 100
    # INTER_AREA on an exact 2x downscale averages 2x2 blocks
    checker = np.tile(np.array([[0, 200], [200, 0]], np.uint8), (64, 64))[..., None].repeat(3, 2)
    assert np.all(preprocess_image(checker, (64, 64)) == 100)
    same = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    assert np.array_equal(preprocess_image(same, (64, 64)), same)  # already the target size: untouched


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((8, 8, 4), np.uint8),
                                 np.zeros((8, 8, 3), np.float32)])
def test_preprocess_rejects_bad_images(bad):
    with pytest.raises(ValueError):
        preprocess_image(bad, (32, 32))


def test_patches_reject_sizes_off_the_grid():
    with pytest.raises(ValueError, match="multiple"):
        image_to_patches(np.zeros((20, 32, 3), np.uint8))


@settings(max_examples=50, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 3).map(lambda k: 16 * k), st.integers(1, 3).map(lambda k: 16 * k),
                                  st.just(3))))
def test_property_patches_reassemble_the_image_exactly(img):
    p = image_to_patches(img)
    h, w = img.shape[:2]
    rows, cols = h // 16, w // 16
    back = (p * 4 + 1) * 127.5  # undo the normalization
    back = back.reshape(rows, cols, 3, 16, 16).transpose(0, 3, 1, 4, 2).reshape(h, w, 3)
    assert np.abs(back - img).max() < 1e-3
    spans = patch_spans(h, w)
    k = np.arange(rows * cols)
    assert np.allclose(spans[:, 0], (k // cols) / rows) and np.allclose(spans[:, 2], (k % cols) / cols)


@settings(max_examples=30, deadline=None)
@given(st.integers(16, 200), st.integers(16, 200), st.integers(0, 255))
def test_property_preprocess_any_size_gives_the_target(h, w, value):
    out = preprocess_image(np.full((h, w, 3), value, np.uint8), (64, 64))
    assert out.shape == (64, 64, 3) and np.all(out == value)  # a flat image stays flat: no padding, no border
