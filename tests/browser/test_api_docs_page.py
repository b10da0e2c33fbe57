"""The API documentation renders in a real browser from our own static files only, under the
Content-Security-Policy the pages send (no inline script, nothing from another origin)."""

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records every CSP violation the browser reports, from before the page's own scripts run.
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""

REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def _operation_count(page) -> int:
    schema = page.request.get("/v1/schema").json()
    methods = {"get", "post", "put", "patch", "delete"}
    return sum(1 for item in schema["paths"].values() for method in item if method in methods)


def _open_recording(page, url: str):
    """Open ``url``, recording the hosts the page's requests reached (blob: workers aside) and
    the requests the browser refused to send."""
    hosts: set[str] = set()
    blocked: list[str] = []

    def reached(request) -> None:
        if urlsplit(request.url).scheme in {"http", "https"}:
            hosts.add(urlsplit(request.url).hostname or "")

    page.on("requestfinished", reached)
    page.on("requestfailed", lambda request: blocked.append(f"{request.failure} {request.url}"))
    page.add_init_script(CSP_RECORDER)
    response = page.goto(url)
    return response, hosts, blocked


class TestApiDocsPage:
    def test_renders_the_operations_without_any_third_party_request(self, page, live_server):
        response, hosts, blocked = _open_recording(page, "/v1/docs/")
        page.get_by_text("/v1/account").first.wait_for()
        assert "PaymentHub API" in page.content()
        assert hosts == {urlsplit(live_server.url).hostname}
        assert blocked == []
        assert "script-src 'self'" in response.headers["content-security-policy"]

    def test_swagger_lists_every_operation_of_the_schema_with_no_csp_violation(self, page):
        _open_recording(page, "/v1/docs/")
        page.get_by_text("/v1/payments/{payment_id}/confirm").first.wait_for()
        assert page.locator(".opblock").count() == _operation_count(page)
        assert page.evaluate("window.__cspViolations") == []

    def test_redoc_lists_every_operation_with_no_csp_violation_and_no_third_party_request(
        self, page, live_server
    ):
        _, hosts, blocked = _open_recording(page, "/v1/redoc/")
        page.get_by_role("heading", name="Confirm a payment").wait_for()
        operations = page.locator("[data-section-id^='operation/']")
        assert operations.count() == _operation_count(page)
        # ReDoc's bundle always shows the Redocly logo from cdn.redoc.ly in its menu footer;
        # the policy blocks it (the request never leaves) and ReDoc hides the broken image.
        # Nothing else may be blocked.
        violations = page.evaluate("window.__cspViolations")
        assert [v for v in violations if v != f"img-src {REDOCLY_LOGO}"] == []
        assert [b for b in blocked if b != f"csp {REDOCLY_LOGO}"] == []
        assert hosts == {urlsplit(live_server.url).hostname}
