"""Frozen data the openbanking app hands to other apps."""
