"""Chaos runs: faults injected into a real local stack, then the money invariants checked.

``python -m bench.chaos [scenario ...] [--seeds 1 2 3] [--short]`` runs each scenario once per
seed, prints the seed before it starts, and ends with one line per run::

    CHAOS <scenario> seed=<n> result=<pass|fail> <figure>=<value> ...

A scenario is a function registered with :func:`bench.chaos.base.register_scenario`; it builds
its own stack (throwaway database, gunicorn, Celery workers, private Redis or PostgreSQL where
it stops them), injects its fault, lets the platform recover by itself and returns a
:class:`bench.chaos.base.ScenarioReport` whose ``failures`` name every broken invariant.
Everything binds 127.0.0.1 and is bounded in time; see docs/runbooks/chaos.md.
"""
