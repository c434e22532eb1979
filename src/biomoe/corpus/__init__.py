"""The pretraining corpus: its sources, windows, task labels and images, in one folder.

Import the submodules: ``params`` (the corpus section, the signal types and the tasks),
``build`` (``build_corpus`` / ``load_corpus``: the folder's contract), ``sources`` (every
source -> windows at one rate), ``simulate`` (the signal simulators), ``packaged`` (recordings
shipped in installed packages), ``estimate`` (rate and SNR of real windows) and ``tasks``
(class names and ids per task). The readers and the resampling are :mod:`biomoe.data`'s.
"""
