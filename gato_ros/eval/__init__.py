"""Evaluation of a model through the full stacking graph (sim + safety + agent over real DDS)."""
