"""Packaged baseline allocations, one file per deployment stage."""
