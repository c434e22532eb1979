"""MLflow tracking, the pain-classifier pyfunc, registration and promotion."""
