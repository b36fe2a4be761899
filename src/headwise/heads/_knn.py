"""Placeholder; implemented in progress."""
