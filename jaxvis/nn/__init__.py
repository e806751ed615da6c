"""Shared Flax (Linen) modules."""
