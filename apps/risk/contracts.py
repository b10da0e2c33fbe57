"""Frozen data the risk app hands to other apps."""
