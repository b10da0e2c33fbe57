"""Entry point for ``python -m bench``: see :mod:`bench.runner` for what it does."""

from bench.runner import main

raise SystemExit(main())
