"""Tests of comparisons/: parity checks, runs, reports."""
