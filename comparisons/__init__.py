"""Parity checks, side-by-side runs, plots and reports: where the frameworks agree and part."""
