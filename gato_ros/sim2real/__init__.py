"""Sim-to-real tools: replay a robot log in the sim, fit the sim's arm dynamics to logs (docs/SIM2REAL.md)."""
