"""Training, evaluation, prediction, export and baselines for ImageFolder datasets.

    import classify
    run = classify.train("data", epochs=3)
    print(classify.predict(run.run_dir / "model.pt", "photo.jpg").predictions[0].top)
"""

from .api import baseline, cross_validate, embed, evaluate, export, predict, train
from .baselines.experiment import BaselineOptions
from .baselines.train import BaselineResult
from .checkpoint import ModelFile, load_model
from .crossval import CrossValidation, CrossValOptions
from .embedding import Embeddings, EmbedOptions
from .errors import ClassifyError, OptionError
from .evaluation import EvalOptions, Evaluation
from .exporting import ExportOptions, ExportResult
from .finetune import TrainConfig, TrainResult
from .inference import InferenceOptions
from .prediction import Failure, Guess, Prediction, Predictions

__all__ = [
    "BaselineOptions", "BaselineResult", "ClassifyError", "CrossValOptions", "CrossValidation", "EmbedOptions",
    "Embeddings", "EvalOptions", "Evaluation", "ExportOptions", "ExportResult", "Failure", "Guess", "InferenceOptions",
    "ModelFile", "OptionError", "Prediction", "Predictions", "TrainConfig", "TrainResult", "baseline",
    "cross_validate", "embed", "evaluate", "export", "load_model", "predict", "train",
]
