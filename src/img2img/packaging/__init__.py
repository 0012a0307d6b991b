"""Packaging a trained generator: deployable exports, MLflow pyfunc model, model card, registry gate."""
