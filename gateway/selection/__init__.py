"""Test selection: slices of suites chosen for coverage, difficulty, diversity or cost."""
