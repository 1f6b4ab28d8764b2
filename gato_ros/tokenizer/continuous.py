"""Continuous values: mu-law companding (mu=100, M=256), 1024 uniform bins, ids shifted to [32000, 33024).

Bin convention: bin b covers [-1 + 2b/N, -1 + 2(b+1)/N) (lower edge inclusive); y = 1.0 exactly falls in
the last bin N-1; values outside [-1, 1] are clipped first, so |x| >= M lands in the first/last bin.
Decoding returns the bin centre -1 + (b + 0.5) 2/N, then the exact inverse of F for mu-law fields.
"""

from __future__ import annotations

import numpy as np

from gato_ros.config import TokenizerConfig, VocabConfig

MU, M = TokenizerConfig.mu, TokenizerConfig.M  # defaults of the low-level functions: gato.json's own defaults
NUM_BINS, OFFSET = VocabConfig.num_bins, VocabConfig.continuous_offset


def mu_law(x: np.ndarray, mu: float = MU, m: float = M) -> np.ndarray:
    """F(x) = sgn(x) log(|x| mu + 1) / log(M mu + 1); |x| > M maps beyond 1 (clipped by the binning)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.log1p(np.abs(x) * mu) / np.log1p(m * mu)


def inv_mu_law(y: np.ndarray, mu: float = MU, m: float = M) -> np.ndarray:
    """Exact inverse of `mu_law`: sgn(y) ((M mu + 1)^|y| - 1) / mu."""
    y = np.asarray(y, dtype=np.float64)
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(m * mu)) / mu


_compand, _expand = mu_law, inv_mu_law  # the parameter `mu_law` below shadows the function name


def to_bins(y: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """Uniform bins over [-1, 1]: bin b covers [-1 + 2b/N, -1 + 2(b+1)/N); y = 1 falls in the last bin."""
    y = np.clip(np.asarray(y, dtype=np.float64), -1.0, 1.0)
    return np.minimum(np.floor((y + 1.0) * 0.5 * num_bins), num_bins - 1).astype(np.int64)


def bin_centres(bins: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    """The value in [-1, 1] that a bin decodes to (its centre)."""
    return -1.0 + (np.asarray(bins, dtype=np.float64) + 0.5) * (2.0 / num_bins)


def tokenize_continuous(x: np.ndarray, mu_law: bool = True, mu: float = MU, m: float = M,
                        num_bins: int = NUM_BINS, offset: int = OFFSET) -> np.ndarray:
    """Values (flattened row-major) -> token ids in [offset, offset + num_bins). NaN/inf is an error."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"cannot tokenize non-finite continuous values: {x[~np.isfinite(x)][:4]}")
    y = _compand(x, mu, m) if mu_law else x
    return to_bins(y, num_bins) + offset


def detokenize_continuous(ids: np.ndarray, mu_law: bool = True, mu: float = MU, m: float = M,
                          num_bins: int = NUM_BINS, offset: int = OFFSET) -> np.ndarray:
    """Token ids -> values: bin centre, then inverse mu-law when the field was mu-law encoded."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"continuous token ids must be integers, got {ids.dtype}")
    bins = ids.astype(np.int64) - offset
    if np.any((bins < 0) | (bins >= num_bins)):
        bad = ids[(bins < 0) | (bins >= num_bins)][:4]
        raise ValueError(f"ids {bad.tolist()} are outside the continuous range [{offset}, {offset + num_bins})")
    y = bin_centres(bins, num_bins)
    return _expand(y, mu, m) if mu_law else y


MODE_WINDOW_FRACTION = 1 / 32  # `mode` decoding's window: this share of the bins on each side of its centre


def read_bins(logits: np.ndarray, mode: str) -> np.ndarray:
    """A value in [-1, 1] per row of bin logits [..., N]: `argmax` (its centre), `expected` (mean of the softmax
    over bin centres), `median` (where the softmax's CDF crosses 1/2, linear inside that bin) or `mode` (the mean
    over the window of 2 N / 32 + 1 bins that holds the most probability).

    Expected, median and mode are continuous (not snapped to a bin): an ordinal-trained head spreads its mass over
    neighbouring bins, and their mean is a finer estimate than the single most likely bin. Mode commits to one peak
    of a distribution with two (turn left or right): the mean and median of such a split land between the peaks,
    on a value neither side wants (docs/MODEL.md, "Eighth round").
    """
    logits = np.asarray(logits, dtype=np.float64)
    n = logits.shape[-1]
    if mode == "argmax":
        return bin_centres(np.argmax(logits, axis=-1), n)
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    if mode == "expected":
        return p @ bin_centres(np.arange(n), n)
    if mode == "mode":
        return _mode_mean(p)
    if mode == "median":
        cdf = np.cumsum(p, axis=-1)
        b = np.minimum((cdf < 0.5).sum(axis=-1), n - 1)
        below = np.take_along_axis(cdf, b[..., None], -1)[..., 0] - np.take_along_axis(p, b[..., None], -1)[..., 0]
        mass = np.maximum(np.take_along_axis(p, b[..., None], -1)[..., 0], 1e-300)
        frac = np.clip((0.5 - below) / mass, 0.0, 1.0)
        return -1.0 + (b + frac) * (2.0 / n)
    raise ValueError(f"unknown decoding mode {mode!r}: argmax, expected, median or mode")


def _mode_mean(p: np.ndarray) -> np.ndarray:
    """The mean over the window of 2w + 1 bins (w = MODE_WINDOW_FRACTION of them, windows clipped at the ends) that
    holds the most of each row's probability `p` [..., N]: window sums from running sums of p and p x centre."""
    n = p.shape[-1]
    w = max(1, int(round(n * MODE_WINDOW_FRACTION)))
    zero = np.zeros(p.shape[:-1] + (1,))
    mass = np.concatenate([zero, np.cumsum(p, axis=-1)], axis=-1)
    moment = np.concatenate([zero, np.cumsum(p * bin_centres(np.arange(n), n), axis=-1)], axis=-1)
    lo, hi = np.clip(np.arange(n) - w, 0, n), np.clip(np.arange(n) + w + 1, 0, n)
    centre = np.argmax(mass[..., hi] - mass[..., lo], axis=-1)  # the window holding the most mass
    start, stop = lo[centre][..., None], hi[centre][..., None]

    def window(a: np.ndarray) -> np.ndarray:
        return (np.take_along_axis(a, stop, -1) - np.take_along_axis(a, start, -1))[..., 0]

    return window(moment) / np.maximum(window(mass), 1e-300)
