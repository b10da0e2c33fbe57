"""``manage.py run_sandbox_bank``: the sandbox bank on 127.0.0.1.

See docs/runbooks/sandbox-bank.md.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.openbanking import conf
from apps.openbanking.sandbox.bank import SandboxBank
from apps.openbanking.sandbox.wsgi import make_sandbox_server


class Command(BaseCommand):
    help = "Run the sandbox bank (UK Open Banking v4.0) on 127.0.0.1."

    def add_arguments(self, parser: CommandParser) -> None:
        client_id, client_secret = conf.get_sandbox_client()
        parser.add_argument("--port", type=int, default=conf.get_sandbox_port())
        parser.add_argument("--client-id", default=client_id)
        parser.add_argument("--client-secret", default=client_secret)
        parser.add_argument(
            "--redirect-uri",
            action="append",
            default=None,
            help="an allowed redirect URI of the TPP client (repeatable)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        bank = SandboxBank()
        redirect_uris = tuple(options["redirect_uri"] or [conf.get_redirect_uri()])
        bank.register_client(
            client_id=options["client_id"],
            client_secret=options["client_secret"],
            redirect_uris=redirect_uris,
        )
        server = make_sandbox_server(bank=bank, port=options["port"], quiet=False)
        self.stdout.write(
            f"Sandbox bank listening on http://127.0.0.1:{server.server_port} "
            f"(client {options['client_id']}, redirect URIs {', '.join(redirect_uris)})",
        )
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
