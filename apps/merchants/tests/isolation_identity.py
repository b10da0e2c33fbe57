"""Isolation cases for the portal identity pages (login, second factor, step-up)."""
