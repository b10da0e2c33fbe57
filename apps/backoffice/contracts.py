"""Frozen data the backoffice app hands to other apps."""
