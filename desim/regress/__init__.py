"""Timing regression: baselines recorded from runs, and checks against them."""
