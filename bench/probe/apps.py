"""App config of the bench-only probe app (label ``bench_probe``)."""

from django.apps import AppConfig


class BenchProbeConfig(AppConfig):
    name = "bench.probe"
    label = "bench_probe"
    verbose_name = "Benchmark probe"
    default_auto_field = "django.db.models.BigAutoField"
