"""Serving ``pain-classifier``: raw windows in, probabilities out, as MLflow serves it.

``params`` (the serve section), ``inputs`` (what the served model accepts), ``predictor``
(imaging, backbone, fusion, head; ``precision`` its opt-in bf16/int8 engines), ``environment``
(the pinned requirements logged with it),
``pyfunc`` + ``model_code`` (the MLflow model), ``register`` (log, register, promote),
``rescore`` (a registered version scored on new validation windows), ``batch`` (a folder
scored into a CSV), ``manage`` (promotion and rollback by hand).
"""
