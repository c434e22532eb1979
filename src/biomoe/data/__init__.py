"""Raw data in, windows table out; demo and pretraining data from simulators.

- :mod:`biomoe.data.ai4pain` reads the AI4PAIN 2025 layout into the windows table (``ingest``);
- :mod:`biomoe.data.windows` is that table's schema and parquet I/O;
- :mod:`biomoe.data.segments` maps segment column names to labels;
- :mod:`biomoe.data.demo` writes a deterministic demo dataset in the AI4PAIN layout, from the
  subject model in :mod:`biomoe.data.physiology`;
- :mod:`biomoe.data.corpus` simulates pretraining signals; :mod:`biomoe.data.packaged` finds real
  recordings shipped inside installed packages; :mod:`biomoe.data.readers` reads user datasets
  (UCR/UEA, WFDB, EDF, CSV/Parquet); :mod:`biomoe.data.windowing` resamples and cuts them;
  :mod:`biomoe.data.task_labels` gives the pretraining task labels.

Submodules are imported directly (``from biomoe.data.ai4pain import ingest``) so that reading
the windows table does not pull in neurokit2.
"""
