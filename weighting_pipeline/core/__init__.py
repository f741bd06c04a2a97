"""Pure finance core: pandas/numpy only, no Dagster, no boto3.

Read in the order of the chain: calendar -> baseline -> returns -> sharpe ->
multipliers -> allocation, with invariants guarding what may be published.
"""
