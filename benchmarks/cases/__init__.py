"""The benchmark cases, one module per case, named after it (``--case NAME``).

Each module's ``run(settings)`` measures its case under the sizes and budgets
of a :class:`common.Settings` and returns its result dict (see
``common._result``); ``run.py`` registers them and writes the report.
"""
