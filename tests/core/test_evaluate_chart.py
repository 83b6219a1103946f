"""The rating chart leaves a far-off RMSE (the zero-filled formula) off its axis, with a note."""

from __future__ import annotations

from reelpick.evaluation.ratings import _far_off


def test_a_zero_filled_rmse_is_left_off_the_axis() -> None:
    shown = [("sgd-mf", 0.855, "c0"), ("cosine-cf\nzero-filled", 3.13, "c1"), ("cos", 0.93, "c2")]
    kept, far = _far_off(shown)
    assert [n for n, _, _ in kept] == ["sgd-mf", "cos"]
    assert far == [("cosine-cf\nzero-filled", 3.13, "c1")]
    # 1.5 x the best (1.2825) stays: only bars above it are left off.
    assert _far_off([("a", 0.855, 0), ("b", 1.2825, 0)])[1] == []
