"""Parity checks, side-by-side runs, plots and reports: where the frameworks agree and part."""

from scratch_parity.neighbours import check_siblings

check_siblings("comparisons", "scratch", "adapters")
