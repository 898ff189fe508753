"""Populations of virtual patients: protocols, cohorts, engines, endpoints and their analysis."""
