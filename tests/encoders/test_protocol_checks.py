"""The checks every encoder's ``encode`` shares (:mod:`headwise.encoders._protocol`)."""

from __future__ import annotations

import pytest

from headwise.encoders import MAX_BATCH, get_encoder
from headwise.exceptions import InputError


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, MAX_BATCH + 1, 10**9])
def test_a_batch_size_no_forward_pass_should_take_is_refused(batch_size):
    # above MAX_BATCH one forward pass held a million inputs' activations: out of memory
    with pytest.raises(InputError, match="batch_size"):
        get_encoder("hash").encode(["a", "b"], batch_size=batch_size)


def test_the_largest_batch_size_runs():
    assert get_encoder("hash").encode(["a", "b"], batch_size=MAX_BATCH).shape[0] == 2
