"""Runs localstripe on 127.0.0.1 (its own CLI binds every interface): a child process the
tests start and stop. Usage: ``python -m apps.payments.tests.localstripe_server <port>``."""

from __future__ import annotations

import sys

from aiohttp import web


def main() -> None:
    import localstripe.server as server

    web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
