"""Property tests of the transition policy (pure: no database needed for stages without
record-based entry requirements)."""

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from kehu.core.errors import ValidationFailed
from kehu.plugins.pipeline import services


def _stages(n: int, back: set[tuple[int, int]]) -> list[dict]:
    """``n`` open stages, then a won and a lost stage; ``back`` holds (from, to) positions."""
    names = [f"S{i}" for i in range(1, n + 1)]
    stages = [
        {
            "id": i,
            "name": names[i - 1],
            "position": i,
            "is_closed": False,
            "is_won": False,
            "is_approval": False,
            "required_fields": [],
            "back_to": [names[t - 1] for f, t in back if f == i],
        }
        for i in range(1, n + 1)
    ]
    stages.append(
        {
            "id": n + 1,
            "name": "Won",
            "position": n + 1,
            "is_closed": True,
            "is_won": True,
            "is_approval": False,
            "required_fields": [],
            "back_to": [],
        }
    )
    stages.append(
        {
            "id": n + 2,
            "name": "Lost",
            "position": n + 2,
            "is_closed": True,
            "is_won": False,
            "is_approval": False,
            "required_fields": [],
            "back_to": [],
        }
    )
    return stages


def _allowed(policy: str, stages: list[dict], at: int, to: int) -> bool:
    pipeline = {
        "transition_policy": policy,
        "approval_threshold_minor": None,
        "approval_currency": "",
    }
    row = {
        "id": None,
        "stage": at,
        "amount_minor": 1,
        "currency": "CNY",
        "expected_close_date": None,
        "approved_at": None,
    }
    target = next(s for s in stages if s["id"] == to)
    try:
        asyncio.run(services.check_transition(pipeline, stages, row, target))
    except ValidationFailed:
        return False
    return True


@given(
    st.integers(2, 7).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.integers(1, n),
            st.integers(1, n + 1),
            st.sets(st.tuples(st.integers(1, n), st.integers(1, n)).filter(lambda e: e[1] < e[0])),
        )
    )
)
def test_linear_moves_one_step_forward_or_along_back_edges(case):
    n, at, to, back = case
    stages = _stages(n, back)
    expected = to == at + 1 or (to < at and (at, to) in back)
    assert _allowed("linear", stages, at, to) == expected
    assert _allowed("non_linear", stages, at, to) == (to != at)
