"""TokenEmbeddings: the ragged per-token container."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.encoders import TokenEmbeddings
from headwise.exceptions import InputError


def test_indexing_and_lengths():
    vectors = np.arange(12, dtype=np.float64).reshape(6, 2)
    te = TokenEmbeddings(vectors, [0, 1, 1, 6])
    assert len(te) == 3
    # one container for encoders and token heads: float64 stays float64 (the heads' exact math),
    # float32 stays float32, anything else becomes float32
    assert te.vectors.dtype == np.float64 and te.offsets.dtype == np.int64
    assert TokenEmbeddings(vectors.astype(np.int32), [0, 6]).vectors.dtype == np.float32
    assert TokenEmbeddings(vectors.astype(np.float16), [0, 6]).vectors.dtype == np.float32
    assert te.dim == 2
    assert te.lengths.tolist() == [1, 0, 5]
    np.testing.assert_array_equal(te[0], [[0, 1]])
    assert te[1].shape == (0, 2)
    np.testing.assert_array_equal(te[-1], vectors[1:])
    assert [t.shape[0] for t in te] == [1, 0, 5]
    with pytest.raises(IndexError):
        te[3]
    assert "n_inputs=3" in repr(te)


@pytest.mark.parametrize(
    "vectors, offsets",
    [
        (np.zeros((3, 2)), [0, 2]),  # does not end at len(vectors)
        (np.zeros((3, 2)), [1, 3]),  # does not start at 0
        (np.zeros((3, 2)), [0, 2, 1, 3]),  # decreasing
        (np.zeros((3, 2)), []),
        (np.zeros(3), [0, 3]),  # vectors not 2-D
    ],
)
def test_inconsistent_offsets_are_refused(vectors, offsets):
    with pytest.raises(InputError, match="TokenEmbeddings"):
        TokenEmbeddings(vectors, np.asarray(offsets, dtype=np.int64))
