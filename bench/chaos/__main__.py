"""Entry point for ``python -m bench.chaos``: see :mod:`bench.chaos.runner`."""

from bench.chaos.runner import main

raise SystemExit(main())
