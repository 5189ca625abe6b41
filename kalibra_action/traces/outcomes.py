"""Outcome codes of a trace (kept apart from population.py so that importing them needs no numpy)."""

OUTCOME_UNKNOWN = -1
OUTCOME_FAILURE = 0
OUTCOME_SUCCESS = 1
