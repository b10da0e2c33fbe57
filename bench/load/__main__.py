"""Entry point for ``python -m bench.load``: see :mod:`bench.load.run` for what it does."""

from bench.load.run import main

raise SystemExit(main())
