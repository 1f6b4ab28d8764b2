"""Continuous and discrete tokenization: golden values from the paper's formulas, bounds, properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gato_ros.config import default_config
from gato_ros.tokenizer import (
    GatoTokenizer, bin_centres, detokenize_continuous, detokenize_discrete, inv_mu_law, mu_law, read_bins, to_bins,
    tokenize_continuous, tokenize_discrete,
)

SAWYER_EFFORT = np.array([80, 80, 40, 40, 9, 9, 9, 1.0])


def test_mu_law_golden_values():
    assert mu_law(0.0) == 0.0
    assert mu_law(1.0) == pytest.approx(math.log(101) / math.log(25601), rel=1e-12)
    assert mu_law(-1.0) == pytest.approx(-math.log(101) / math.log(25601), rel=1e-12)
    assert mu_law(256.0) == pytest.approx(1.0, rel=1e-12)  # |x| = M maps to exactly 1


def test_bins_and_ids():
    # 1024 uniform bins over [-1, 1]; ids shifted by 32000
    assert to_bins(-1.0) == 0 and to_bins(1.0) == 1023 and to_bins(0.0) == 512
    assert to_bins(-1.0 + 2 / 1024 - 1e-12) == 0 and to_bins(-1.0 + 2 / 1024) == 1
    assert tokenize_continuous(np.array([0.0]))[0] == 32000 + 512
    # F(0.5) lands in bin floor((F + 1) / 2 * 1024)
    f = math.log(51) / math.log(25601)
    assert tokenize_continuous(np.array([0.5]))[0] == 32000 + math.floor((f + 1) / 2 * 1024)
    # values beyond M clip to the last (first) bin
    assert tokenize_continuous(np.array([1e6, -1e6, 300.0])).tolist() == [33023, 32000, 33023]
    assert bin_centres(np.array([0, 1023])).tolist() == pytest.approx([-1 + 1 / 1024, 1 - 1 / 1024])


def test_inverse_is_exact_on_the_compander():
    y = np.linspace(-1, 1, 2001)
    assert np.allclose(mu_law(inv_mu_law(y)), y, atol=1e-12)
    assert inv_mu_law(1.0) == pytest.approx(256.0, rel=1e-12)


def test_decoding_is_bin_centre_then_inverse_mu_law():
    ids = np.arange(32000, 33024)
    centres = -1 + (np.arange(1024) + 0.5) * 2 / 1024
    assert np.allclose(detokenize_continuous(ids, mu_law=False), centres, atol=1e-15)
    assert np.allclose(detokenize_continuous(ids, mu_law=True), inv_mu_law(centres), rtol=1e-12)
    # every decoded value re-encodes to its own id (centres are fixed points of the round trip)
    assert np.array_equal(tokenize_continuous(detokenize_continuous(ids)), ids)
    assert np.array_equal(tokenize_continuous(detokenize_continuous(ids, False), mu_law=False), ids)
    assert detokenize_continuous(np.array([32512]))[0] == pytest.approx(inv_mu_law(1 / 1024))


def test_non_finite_rejected():
    with pytest.raises(ValueError, match="non-finite"):
        tokenize_continuous(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="outside the continuous range"):
        detokenize_continuous(np.array([31999]))
    with pytest.raises(ValueError, match="outside the continuous range"):
        detokenize_continuous(np.array([33024]))  # the separator is not a value
    with pytest.raises(ValueError, match="integers"):
        detokenize_continuous(np.array([32000.0]))


def test_round_trip_error_over_sawyer_torque_range():
    """Both paths over +-80 Nm: raw mu-law (paper) and the action path (scaled by effort limits, no mu-law)."""
    tok = GatoTokenizer(default_config())
    raw_max = []
    action_max = []
    for j, limit in enumerate(SAWYER_EFFORT):
        x = np.linspace(-limit, limit, 20001)
        raw = detokenize_continuous(tokenize_continuous(x))
        raw_max.append(np.abs(raw - x).max())
        # |F(x) - centre| <= half a bin and F^-1 is convex for x > 0, so the error is largest at the range end
        bound = inv_mu_law(mu_law(limit) + 1 / 1024) - limit + 1e-12
        assert raw_max[-1] <= bound
        ids = np.stack([tok.action_ids(np.where(np.arange(8) == j, v, 0.0)) for v in x[::50]])
        decoded = np.array([tok.decode_action_token(j, i) for i in ids[:, j]])
        action_max.append(np.abs(decoded - x[::50]).max())
        assert action_max[-1] <= tok.action_scale[j] / 1024 + 1e-9  # half a bin of 2*scale/1024
    # measured figures (printed with -s): raw mu-law 0.785 Nm at 80 Nm, action path 0.078 Nm
    print("raw mu-law max error per joint (Nm):", np.round(raw_max, 4).tolist())
    print("action path max error per joint (Nm):", np.round(action_max, 5).tolist())
    assert raw_max[0] < 0.8 and action_max[0] < 0.08


def test_read_bins_decoding_modes():
    """argmax = the bin centre; expected and median are continuous, inside the distribution's support."""
    logits = np.full((2, 1024), -1e9)
    logits[0, 600] = 0.0
    logits[1, 100:104] = 0.0  # four equally likely bins: mean = median = their middle edge
    assert read_bins(logits, "argmax")[0] == bin_centres(np.array([600]))[0]
    assert read_bins(logits, "expected")[0] == pytest.approx(bin_centres(np.array([600]))[0])
    assert read_bins(logits, "median")[0] == pytest.approx(bin_centres(np.array([600]))[0])
    assert read_bins(logits, "expected")[1] == pytest.approx(-1 + 102 * 2 / 1024)
    assert read_bins(logits, "median")[1] == pytest.approx(-1 + 102 * 2 / 1024)
    assert read_bins(logits, "mode")[0] == pytest.approx(bin_centres(np.array([600]))[0])
    assert read_bins(logits, "mode")[1] == pytest.approx(-1 + 102 * 2 / 1024)
    with pytest.raises(ValueError, match="decoding"):
        read_bins(logits, "mean")


def test_mode_decoding_commits_to_one_peak_of_a_split():
    """Two peaks (turn left 45% or right 55%): mean and median fall between them, mode takes the heavier peak's
    mean, whichever side it is on, and a peak at the end of the range stays there."""
    x = bin_centres(np.arange(1024))
    split = np.log(0.45 * np.exp(-0.5 * ((x - 0.9) / 0.01) ** 2) + 0.55 * np.exp(-0.5 * ((x + 0.8) / 0.01) ** 2)
                   + 1e-300)
    assert abs(read_bins(split, "expected")) < 0.1 and read_bins(split, "mode") == pytest.approx(-0.8, abs=1e-3)
    np.testing.assert_allclose(read_bins(np.stack([split, split[::-1]]), "mode"), [-0.8, 0.8], atol=1e-3)
    edge = np.zeros(1024)
    edge[-3:] = 8.0  # most mass in the last three bins
    assert read_bins(edge, "mode") > 0.97


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=32))
def test_property_tokens_in_range_and_monotonic(values):
    x = np.array(values)
    ids = tokenize_continuous(x)
    assert np.all((ids >= 32000) & (ids < 33024))
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(ids[order]) >= 0)  # monotonic: larger values never get smaller ids


@settings(max_examples=200, deadline=None)
@given(st.floats(-256, 256, allow_nan=False))
def test_property_round_trip_within_one_bin(x):
    y = detokenize_continuous(tokenize_continuous(np.array([x])))[0]
    assert abs(mu_law(y) - mu_law(x)) <= 1 / 1024 + 1e-12  # within half a bin in the companded domain


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 7), st.floats(-500, 500, allow_nan=False))
def test_property_action_path_round_trip(joint, effort):
    tok = GatoTokenizer(default_config())
    efforts = np.zeros(8)
    efforts[joint] = effort
    ids = tok.action_ids(efforts)
    assert np.all((ids >= 32000) & (ids < 33024))
    decoded = tok.decode_action_token(joint, int(ids[joint]))
    limit = SAWYER_EFFORT[joint]  # half a bin of the action scale (gripper: 2.0), saturating at the effort limit
    assert abs(decoded - np.clip(effort, -limit, limit)) <= tok.action_scale[joint] / 1024 + 1e-9


@given(st.lists(st.integers(0, 1023), min_size=1, max_size=16))
def test_property_discrete_identity(values):
    assert detokenize_discrete(tokenize_discrete(np.array(values))).tolist() == values


def test_discrete_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 1024\)"):
        tokenize_discrete(np.array([1024]))
    with pytest.raises(ValueError):
        tokenize_discrete(np.array([0.5]))
