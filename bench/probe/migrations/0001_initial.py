"""Create the bench-only ``bench_probe`` table (applied only under ``bench.settings``)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="BenchProbe",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("label", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField()),
            ],
            options={"db_table": "bench_probe"},
        ),
    ]
