"""Reliability: extreme values, divergence, determinism, global state, hostile input, files."""
