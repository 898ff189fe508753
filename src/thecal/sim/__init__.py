"""Simulation: scenario files, the scenario runner, its records and plots."""
