"""The risk thresholds come from the ``risk.thresholds`` runtime configuration document when
one is in force, and from settings otherwise."""

from __future__ import annotations

import pytest

from apps.common.config import clear_config_cache, publish_config
from apps.risk.scoring import get_block_threshold, get_review_threshold, level_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_config_cache(redis_client):
    clear_config_cache()
    yield
    clear_config_cache()


class TestRiskThresholdsFromConfig:
    def test_thresholds_follow_the_document_at_once_and_settings_without_one(
        self, settings, django_capture_on_commit_callbacks
    ):
        settings.RISK_REVIEW_THRESHOLD = 75
        settings.RISK_BLOCK_THRESHOLD = 90
        assert (get_review_threshold(), get_block_threshold()) == (75, 90)
        assert level_for(score=80) == "elevated"

        with django_capture_on_commit_callbacks(execute=True):
            publish_config(
                key="risk.thresholds",
                body={"review": 85, "block": 95},
                actor_type="admin",
                actor_id="risk-lead",
                approval_id="apr_test",  # sensitive: published by an approved proposal
            )

        # The publishing process sees its change at once; others within seconds.
        assert (get_review_threshold(), get_block_threshold()) == (85, 95)
        assert level_for(score=80) == "normal"
        assert level_for(score=95) == "highest"
