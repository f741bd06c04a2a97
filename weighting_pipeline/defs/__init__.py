"""The definitions, one module per part, loaded by Dagster's defs-folder loader (``definitions.py``).

Each module holds a ``@dg.definitions`` function, evaluated when the code location
loads, so the deployment's environment (``APP__STAGE`` and the settings) is read then.
"""
