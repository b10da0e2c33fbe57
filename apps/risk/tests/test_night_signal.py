"""The night_time signal: hours 00:00-04:59 UTC, midnight's hour included."""

import pytest

from apps.risk.scoring import signal_reasons


@pytest.mark.parametrize(("hour", "night"), [(0, True), (4, True), (5, False), (12, False)])
def test_the_night_signal_covers_midnight_to_five_utc(hour, night):
    assert ("night_time" in signal_reasons(features={"hour_utc": hour})) is night


def test_features_without_an_hour_are_not_night():
    assert "night_time" not in signal_reasons(features={})
