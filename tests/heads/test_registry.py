"""get_head: a parameter the head does not have is named, with the ones it does have."""

from __future__ import annotations

import pytest

from headwise.exceptions import InputError
from headwise.heads import get_head
from headwise.heads._auto import AutoHead

from ._helpers import toy_blobs


def test_an_unknown_parameter_lists_the_heads_parameters():
    with pytest.raises(InputError, match=r"Head 'auto' has no parameter 'heads'; its parameters "
                                         r"are: candidate_params, candidates, .*random_state\."):
        get_head("auto", heads=["lda"])
    with pytest.raises(InputError, match=r"Head 'ncm' has no parameter 'k', 'nonsense'; its "
                                         r"parameters are: metric\."):
        get_head("ncm", nonsense=1, k=2)


def test_an_unknown_candidate_parameter_is_named_too():
    head = AutoHead(candidates=("ncm", "lda"), candidate_params={"lda": {"alpha": 1.0}})
    with pytest.raises(InputError, match="Head 'lda' has no parameter 'alpha'"):
        head.fit(*toy_blobs())
