"""Models-from-code entry point logged with ``pain-classifier``; MLflow runs it when loading."""

from mlflow.models import set_model

from biomoe.serve.pyfunc import PainClassifierModel

set_model(PainClassifierModel())
