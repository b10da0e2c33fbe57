"""Frozen data the payments app hands to other apps."""
