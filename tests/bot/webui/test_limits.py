"""Per-address limits on web submissions (`bot.webui.limits`): new browsers (cookies) from one
address share its allowance; behind the operator's proxy the forwarded address counts."""

from __future__ import annotations

from bot.webui.limits import SubmitLimit
from tests.bot.webui.conftest import form
from tests.bot.webui.test_playground import open_playground, shown_error, submit


async def test_one_address_cannot_mint_browsers_to_pass_the_limit(make_web):
    store, new_client = await make_web(web_jobs_per_ip_hour=2, per_user_queue_limit=5)
    browsers = [await new_client() for _ in range(3)]
    for browser in browsers[:2]:
        assert (await submit(browser, await open_playground(browser))).status == 303
    refused = await submit(browsers[2], await open_playground(browsers[2]))
    assert refused.status == 200 and refused.headers["X-NST-Error"] == "ip_limit"
    assert refused.headers["X-NST-Status"] == "429"
    assert "has queued 2 jobs in the last 60 minutes" in shown_error(await refused.text())
    assert (await store.stats()).queued == 2


async def test_refused_submissions_do_not_use_up_the_allowance(make_web):
    store, new_client = await make_web(web_jobs_per_ip_hour=1)
    client = await new_client()
    csrf = await open_playground(client)
    bad = await submit(client, csrf, size="abc")
    assert bad.headers["X-NST-Error"] == "bad_params"
    assert (await submit(client, csrf)).status == 303
    assert (await store.stats()).queued == 1


async def test_behind_the_proxy_the_forwarded_address_counts(make_web):
    store, new_client = await make_web(
        # http: the Secure cookie an https address gets would not come back over this client
        web_jobs_per_ip_hour=1,
        per_user_queue_limit=5,
        web_public_url="http://nst.example/",
    )
    client = await new_client()
    csrf = await open_playground(client)

    async def from_address(address: str) -> str:
        resp = await client.post(
            "/jobs",
            data=form(csrf),
            headers={"X-Forwarded-For": f"203.0.113.9, {address}"},
            allow_redirects=False,
        )
        return "queued" if resp.status == 303 else resp.headers["X-NST-Error"]

    assert await from_address("198.51.100.1") == "queued"
    assert await from_address("198.51.100.1") == "ip_limit"
    assert await from_address("198.51.100.2") == "queued"  # the proxy's last hop, not the first
    assert (await store.stats()).queued == 2


async def test_without_a_proxy_a_forwarded_header_is_ignored(make_web):
    _, new_client = await make_web(web_jobs_per_ip_hour=1, per_user_queue_limit=5)
    client = await new_client()
    csrf = await open_playground(client)
    assert (await submit(client, csrf)).status == 303
    spoofed = await client.post(
        "/jobs",
        data=form(csrf),
        headers={"X-Forwarded-For": "198.51.100.7"},
        allow_redirects=False,
    )
    assert spoofed.headers["X-NST-Error"] == "ip_limit"


def test_the_window_slides():
    now = [1000.0]
    limit = SubmitLimit(2, 60.0, clock=lambda: now[0])
    limit.record("a")
    now[0] += 30
    limit.record("a")
    assert limit.retry_after("a") == 30.0  # the first one leaves the window in 30 s
    assert limit.retry_after("b") is None
    now[0] += 30
    assert limit.retry_after("a") is None
    limit.record("a")
    assert limit.retry_after("a") == 30.0
