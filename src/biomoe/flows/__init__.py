"""The Prefect doors: ``retrain`` (the chain, one task per stage) and ``deploy`` (it on a schedule).

``deploy`` imports ``retrain``, never the other way; both sit above every other package. The
scripts in the project's ``flows/`` folder are their command lines.
"""
