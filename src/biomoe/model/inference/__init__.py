"""Tiny-BioMoE for inference: ``build_engine(model, engine)``, ``load_engine(path, engine, S)``.

Engines (``Engine``, named in the torch-free ``biomoe.model.engines``):

* ``"eager"``: the model itself, in eval mode.
* ``"fast"``: ``FastTinyBioMoE``, the model with every layer folded for inference (``fold``:
  BatchNorm folded, NHWC end to end, oneDNN-fused epilogues), one stream of ops split over
  PyTorch's intra-op threads. Equal to eager to float32 rounding (~1e-5).
* ``"threaded"`` (default): ``ThreadedTinyBioMoE``, the fast network on single-threaded
  workers (``workers``); the faster of the two on a few cores. Its outputs do not depend on
  the number of workers.
"""

from biomoe.model.engines import ENGINES, Engine
from biomoe.model.inference.factory import build_engine, load_engine
from biomoe.model.inference.fast import FastTinyBioMoE
from biomoe.model.inference.threaded import ThreadedTinyBioMoE

__all__ = [
    "ENGINES",
    "Engine",
    "FastTinyBioMoE",
    "ThreadedTinyBioMoE",
    "build_engine",
    "load_engine",
]
