"""Tiny-BioMoE in plain PyTorch, and checkpoint I/O in the published format.

Import the submodules: ``tiny_biomoe`` (the network), ``efficientvit`` / ``spectformer`` (its
experts), ``layers`` (their named parts), ``checkpoint`` (the published format), ``spec`` and
``engines`` (torch-free facts the params schema checks against), ``inference`` (the folded,
fast and threaded engines and their one factory).
"""
