"""Training, evaluation, prediction and baselines for ImageFolder datasets."""
