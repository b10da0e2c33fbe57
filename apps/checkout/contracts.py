"""Frozen data the checkout app hands to other apps."""
