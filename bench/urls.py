"""Benchmark URLs: the product's URLs plus the probe routes under ``/v1/_bench/``."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from paymenthub import urls as product_urls

urlpatterns: list[URLPattern | URLResolver] = [
    path("v1/_bench/", include("bench.probe.urls")),
    *product_urls.urlpatterns,
]

handler404 = product_urls.handler404
handler500 = product_urls.handler500
