"""Validate the windows table with Great Expectations before anything trains on it.

Import the submodules: ``runner`` (``validate_windows``), ``report`` (the report and
``require_valid``), ``rules``, ``stats``, ``params`` (the validate section).
"""
