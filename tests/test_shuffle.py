"""The compiled epoch shuffle draws exactly what NumPy's RandomState.shuffle
(scikit-learn's ``sklearn.utils.shuffle``) draws, and leaves the same state."""

import numpy as np
import pytest
from sklearn.utils import shuffle as sklearn_shuffle

from fastbp import _shuffle
from fastbp._shuffle import shuffled


def state_of(random_state):
    name, key, pos, has_gauss, gauss = random_state.get_state()
    return name, key.tolist(), pos, has_gauss, gauss


# 623/624/625 rows cross the end of a 624-word Mersenne Twister block.
@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 623, 624, 625, 1000, 30_000])
@pytest.mark.parametrize("draws_before", [0, 1, 700], ids=lambda d: f"pos{d}")
def test_same_permutation_and_state_as_sklearn(n, draws_before, seed):
    ours, theirs = np.random.RandomState(seed), np.random.RandomState(seed)
    for random_state in (ours, theirs):
        random_state.random_sample(draws_before)  # start mid-block
        random_state.standard_normal()  # a cached Gaussian must survive too
    sample_idx = np.arange(n) * 7 + 3
    before = sample_idx.copy()
    for _ in range(3):  # consecutive epochs
        got = shuffled(sample_idx, ours)
        expected = sklearn_shuffle(sample_idx, random_state=theirs)
        np.testing.assert_array_equal(got, expected)
        assert state_of(ours) == state_of(theirs)
    np.testing.assert_array_equal(sample_idx, before)  # input left alone
    assert ours.standard_normal() == theirs.standard_normal()


def test_other_bit_generators_fall_back_to_numpy():
    ours = np.random.RandomState(np.random.PCG64(5))
    theirs = np.random.RandomState(np.random.PCG64(5))
    sample_idx = np.arange(1000)
    np.testing.assert_array_equal(
        shuffled(sample_idx, ours), sklearn_shuffle(sample_idx, random_state=theirs)
    )
    assert ours.random_sample() == theirs.random_sample()


def test_unexpected_state_layout_falls_back_to_numpy(monkeypatch):
    """If NumPy's state struct ever changes, the layout check turns the
    compiled path off instead of corrupting the generator."""
    monkeypatch.setattr(_shuffle, "_STATE_LAYOUT_OK", None)
    monkeypatch.setattr(_shuffle, "_N", 623)  # a wrong idea of the struct
    ours, theirs = np.random.RandomState(3), np.random.RandomState(3)
    sample_idx = np.arange(500)
    np.testing.assert_array_equal(
        shuffled(sample_idx, ours), sklearn_shuffle(sample_idx, random_state=theirs)
    )
    assert _shuffle._STATE_LAYOUT_OK is False
    assert state_of(ours) == state_of(theirs)
