"""The size line on the segments list: drawn for any number of days, the first one included."""

from __future__ import annotations

import re

from fanbase.web.components.common import sparkline_svg


def _points(svg: str) -> list[str]:
    found = re.search(r'points="([^"]*)"', svg)
    assert found is not None, svg
    return found.group(1).split()


def test_a_segments_first_day_is_a_flat_line_across_the_width() -> None:
    assert _points(sparkline_svg([629])) == ["0.0,25.0", "120.0,25.0"]


def test_days_spread_over_the_width_lowest_at_the_bottom() -> None:
    assert _points(sparkline_svg([0, 5, 10])) == ["0.0,25.0", "60.0,14.0", "120.0,3.0"]


def test_no_days_is_a_dash() -> None:
    assert "—" in sparkline_svg([])
