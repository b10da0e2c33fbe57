"""Migrations of the bench-only probe app."""
