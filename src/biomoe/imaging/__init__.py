"""Biosignal windows -> 3 x S x S uint8 images (one module per representation), and their shards.

Import the submodules: ``render`` (the representations and batch entry points), ``shards``
(the content-addressed image store), ``gallery`` and ``grid`` (pictures for people), ``params``
(the images section and the representation names).
"""
