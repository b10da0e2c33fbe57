"""The API documentation renders in a real browser from our own static files only."""

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class TestApiDocsPage:
    def test_renders_the_operations_without_any_third_party_request(self, page, live_server):
        hosts: set[str] = set()
        page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or ""))
        page.goto("/v1/docs/")
        page.get_by_text("/v1/account").first.wait_for()
        assert "PaymentHub API" in page.content()
        assert hosts == {urlsplit(live_server.url).hostname}
