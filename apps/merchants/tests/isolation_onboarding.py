"""Isolation cases for sign-up, admin review, team, webhook endpoint and pricing routes."""
