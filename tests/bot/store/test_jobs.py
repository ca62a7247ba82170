"""Bot-side job operations (`bot.store.jobs`): submitting (rules, parent, insert), looking up,
cancelling (both backends). Queue caps are in test_admission.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.store import (
    CancelRefused,
    InteractionRef,
    JobParams,
    JobStatus,
    QueueRefused,
    Store,
    Viewer,
)
from tests.bot.store.helpers import TINY, blob, submit


async def test_submit_stores_job_and_dedupes_images(store: Store) -> None:
    style = blob("starry")
    a = await store.submit(1, 10, 20, blob("a"), [(style, 1.0), (blob("b"), 0.5)], TINY)
    b = await store.submit(2, 10, 20, blob("a"), [(style, 2.0)], TINY)
    assert a.status is JobStatus.QUEUED and a.id != b.id
    assert a.content_sha == b.content_sha  # same bytes stored once
    assert a.styles[0][0] == b.styles[0][0] and [w for _, w in a.styles] == [1.0, 0.5]
    assert a.created_at.tzinfo is not None and a.created_at.utcoffset() == timedelta(0)
    image = await store.get_image(a.content_sha)
    assert image is not None and image.data == blob("a").data and image.fmt == "png"
    assert (image.width, image.height) == (64, 48)
    assert await store.get_image("0" * 64) is None
    assert await store.get_job(a.id) == a
    assert await store.get_job(10_000) is None


async def test_interaction_token_is_kept_but_never_shown(store: Store) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=15)
    ref = InteractionRef(application_id=99, token="s3cr3t-token", expires_at=expires)
    job = await store.get_job(await submit(store, 1, interaction=ref))
    assert job is not None and job.interaction is not None
    assert job.interaction.token == "s3cr3t-token"
    assert "s3cr3t" not in repr(job) and "s3cr3t" not in str(job.interaction)
    await store.set_response_message(job.id, 555)
    again = await store.get_job(job.id)
    assert again is not None and again.interaction is not None
    assert again.interaction.message_id == 555


@pytest.mark.parametrize(
    ("params", "n_styles", "needle"),
    [
        (JobParams(preset="ultra"), 1, "preset"),
        (JobParams(size=10), 1, "at least 64"),
        (JobParams(style_strength=0.0), 1, "strength"),
        (JobParams(init="bogus"), 1, "init"),
        (TINY, 0, "style images"),
        (TINY, 5, "style images"),
    ],
)
async def test_bad_params_are_refused(
    store: Store, params: JobParams, n_styles: int, needle: str
) -> None:
    styles = [(blob(f"s{i}"), 1.0) for i in range(n_styles)]
    with pytest.raises(QueueRefused) as refused:
        await store.submit(1, None, None, blob("c"), styles, params)
    assert refused.value.code == "bad_params" and needle in refused.value.message


async def test_parent_must_exist(store: Store) -> None:
    parent = await submit(store, 1)
    child = await store.get_job(await submit(store, 1, params=JobParams(parent_job_id=parent)))
    assert child is not None and child.params.parent_job_id == parent
    with pytest.raises(QueueRefused) as refused:
        await submit(store, 1, params=JobParams(parent_job_id=9999))
    assert refused.value.code == "parent_not_found"


async def test_cancel_queued_and_running(store: Store) -> None:
    queued, running = await submit(store, 1, "q", guild=7), await submit(store, 2, "r", guild=7)
    with pytest.raises(CancelRefused) as refused:
        await store.request_cancel(queued, Viewer(2, 7))
    assert refused.value.code == "not_owner"
    job = await store.request_cancel(queued, 1)
    assert job.status is JobStatus.CANCELLED and job.finished_at is not None
    with pytest.raises(CancelRefused) as refused:
        await store.request_cancel(queued, 1)
    assert refused.value.code == "already_finished"
    with pytest.raises(CancelRefused) as refused:
        await store.request_cancel(424242, 1)
    assert refused.value.code == "not_found"

    claimed = await store.claim("w1")
    assert claimed is not None and claimed.job.id == running
    assert not await store.is_cancel_requested(running)
    job = await store.request_cancel(running, Viewer(999, 7), admin=True)
    assert job.status is JobStatus.RUNNING and job.cancel_requested
    assert await store.is_cancel_requested(running)
    assert await store.mark_cancelled(running, "w1")
    final = await store.get_job(running)
    assert final is not None and final.status is JobStatus.CANCELLED
