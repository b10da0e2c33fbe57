"""Thin Celery tasks of the vault: one service call each."""

from __future__ import annotations

from celery import shared_task

from apps.tokenization.services import rotate_keys, shred_expired_tokens, start_key_rotation

BATCHES_PER_TASK = 200


@shared_task(
    name="tokenization.rotate_vault_keys",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def rotate_vault_keys() -> int:
    """Activate a new KEK version, then hand the re-wrap to the resumable task."""
    version = start_key_rotation()
    resume_vault_key_rotation.delay()
    return version


@shared_task(
    name="tokenization.resume_vault_key_rotation",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def resume_vault_key_rotation() -> int:
    """Re-wrap a bounded number of batches; re-enqueue until done, then retire old versions.

    Safe to run twice or concurrently (rows are claimed with SKIP LOCKED).
    """
    report = rotate_keys(start_new_version=False, max_batches=BATCHES_PER_TASK)
    if not report.completed:
        resume_vault_key_rotation.delay()
    return report.rewrapped


@shared_task(
    name="tokenization.shred_expired_tokens",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def shred_expired_token_cards() -> int:
    return shred_expired_tokens()
