"""Raw data in, windows table out; the demo dataset; readers of other recording formats.

- :mod:`biomoe.data.ai4pain` reads the AI4PAIN 2025 layout into the windows table (``ingest``);
- :mod:`biomoe.data.windows` is that table's schema and parquet I/O;
- :mod:`biomoe.data.segments` maps segment column names to labels;
- :mod:`biomoe.data.demo` writes a deterministic demo dataset in the AI4PAIN layout, from the
  subject model in :mod:`biomoe.data.physiology`;
- :mod:`biomoe.data.readers` reads recordings in other layouts (UCR/UEA, WFDB, EDF,
  CSV/Parquet); :mod:`biomoe.data.windowing` resamples them and cuts them into windows (both
  used by the pretraining corpus, :mod:`biomoe.corpus`, and the benchmarks).

Submodules are imported directly (``from biomoe.data.ai4pain import ingest``) so that reading
the windows table does not pull in neurokit2.
"""
