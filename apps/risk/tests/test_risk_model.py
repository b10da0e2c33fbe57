from io import StringIO

import pytest
from django.core.management import call_command

from apps.common.models import AuditEvent
from apps.risk.facade import assess_payment
from apps.risk.ml import (
    activate_model_version,
    generate_synthetic_rows,
    load_model_version,
    train_model,
    train_risk_model,
    vectorize,
)
from apps.risk.models import RiskDecisionRecord, RiskModelVersion, RiskReview
from apps.risk.rescoring import rescore_payment
from apps.risk.tests.helpers import make_risk_input

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def synthetic_rows():
    return generate_synthetic_rows(count=3000, seed=11)


class TestTraining:
    def test_a_model_trained_on_synthetic_data_is_stored_inactive_with_its_metrics(
        self, synthetic_rows
    ):
        version = train_model(rows=synthetic_rows, data_source="synthetic")
        assert not version.is_active
        metrics = version.metrics
        # learnable, yet not separable: a fifth of the synthetic fraud looks ordinary
        assert 0.7 < metrics["roc_auc"] < 0.99
        assert metrics["held_out_rows"] == 750
        for name in ("review", "block"):
            assert 0 <= metrics[f"precision_at_{name}"] <= 1
            assert 0 <= metrics[f"recall_at_{name}"] <= 1
        assert metrics["review_threshold"] == 75

    def test_the_command_bootstraps_a_fresh_install_from_synthetic_data(self):
        out = StringIO()
        call_command("train_risk_model", "--synthetic", "2000", stdout=out)
        version = RiskModelVersion.objects.get()
        assert version.data_source == "synthetic"
        assert "ROC AUC" in out.getvalue()
        assert "Not active" in out.getvalue()
        assert not version.is_active

    def test_too_little_history_falls_back_to_synthetic_data(self):
        assert train_risk_model(synthetic_rows=0, min_history_rows=10).data_source == "synthetic"


class TestServing:
    def test_the_flattened_trees_score_exactly_like_scikit_learn(self, synthetic_rows):
        version = train_model(rows=synthetic_rows, data_source="synthetic")
        loaded = load_model_version(version=version)
        estimator = loaded.estimator
        for features, _ in synthetic_rows[:200]:
            row = vectorize(features=features)
            expected = estimator.predict_proba([row])[0][1]
            assert loaded.probability(row=row) == pytest.approx(expected, abs=1e-9)

    def test_a_model_serves_only_once_activated_and_activation_is_audited(self, synthetic_rows):
        version = train_model(rows=synthetic_rows, data_source="synthetic")
        assess_payment(risk_input=make_risk_input(payment_id="pay_before"))
        assert RiskDecisionRecord.objects.get(payment_ref="pay_before").model_version == ""
        activate_model_version(version=version.version, actor_id="9")
        assess_payment(risk_input=make_risk_input(payment_id="pay_after"))
        assert RiskDecisionRecord.objects.get(payment_ref="pay_after").model_version == (
            version.version
        )
        assert AuditEvent.objects.get(action="risk.model_activated").object_id == version.version

    def test_activating_another_version_retires_the_previous_one(self, synthetic_rows):
        first = train_model(rows=synthetic_rows, data_source="synthetic", seed=1)
        second = train_model(rows=synthetic_rows, data_source="synthetic", seed=2)
        activate_model_version(version=first.version, actor_id="9")
        activate_model_version(version=second.version, actor_id="9")
        assert list(RiskModelVersion.objects.filter(is_active=True)) == [second]

    def test_a_card_testing_burst_scores_high_with_the_model(self, synthetic_rows):
        version = train_model(rows=synthetic_rows, data_source="synthetic")
        activate_model_version(version=version.version, actor_id="9")
        ordinary = assess_payment(risk_input=make_risk_input(card_country="FR", ip_country="FR"))
        for _ in range(12):
            burst = assess_payment(
                risk_input=make_risk_input(
                    card_fingerprint="fp_t",
                    customer_email="t@yopmail.com",
                    ip_address="198.51.100.66",
                    amount_minor=100,
                    card_country="US",
                    ip_country="NG",
                )
            )
        assert burst.score > ordinary.score
        assert burst.action.value in {"review", "block"}


class TestRescoring:
    def test_a_captured_payment_rescored_high_opens_a_review_after_the_fact(self, synthetic_rows):
        # allowed at authorization (no model then), with the tells of fraud in its features
        assess_payment(risk_input=make_risk_input(payment_id="pay_late"))
        version = train_model(rows=synthetic_rows, data_source="synthetic")
        model = load_model_version(version=version)
        fraud_like = max(
            (features for features, label in synthetic_rows if label),
            key=lambda features: model.probability(row=vectorize(features=features)),
        )
        RiskDecisionRecord.objects.filter(payment_ref="pay_late").update(features=fraud_like)
        activate_model_version(version=version.version, actor_id="9")
        assert rescore_payment(payment_id="pay_late") == "review_opened"
        review = RiskReview.objects.get(payment_ref="pay_late")
        assert review.opened_by == "rescoring"
        assert review.reasons[0] == "rescored_elevated_risk"
        assert rescore_payment(payment_id="pay_late") == "already_rescored"

    def test_an_ordinary_payment_rescored_stays_clear(self):
        assess_payment(risk_input=make_risk_input(payment_id="pay_ok"))
        assert rescore_payment(payment_id="pay_ok") == "clear"
        assert not RiskReview.objects.filter(payment_ref="pay_ok").exists()


class TestSyntheticData:
    def test_the_synthetic_history_is_about_four_percent_fraud_and_not_separable(self):
        rows = generate_synthetic_rows(count=20_000, seed=3)
        fraud = [features for features, label in rows if label]
        ordinary = [features for features, label in rows if not label]
        assert 0.03 < len(fraud) / len(rows) < 0.05
        # some fraud looks like a returning customer; some ordinary shoppers share an IP
        assert any(f["customer_payment_count"] > 5 and f["card_count_1h"] == 1 for f in fraud)
        assert any(f["ip_count_1h"] >= 5 for f in ordinary)
