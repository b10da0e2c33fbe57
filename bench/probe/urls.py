"""Probe routes, mounted under ``/v1/_bench/`` by :mod:`bench.urls`."""

from __future__ import annotations

from django.urls import URLPattern, path

from bench.probe.views import EchoProbeView, InsertProbeView

urlpatterns: list[URLPattern] = [
    path("probes", InsertProbeView.as_view(), name="bench-probe-insert"),
    path("echo", EchoProbeView.as_view(), name="bench-probe-echo"),
]
