"""Evaluation protocols of the papers and distance baselines, applied to sslts embeddings.

- Classification (:mod:`.classification`): TS2Vec's RBF-SVM protocol, k-NN, linear
  SVM and logistic-regression probes on instance embeddings.
- Forecasting (:mod:`.forecasting`): TS2Vec's ETT protocol, ridge regression on
  causal timestamp embeddings.
- Anomaly detection (:mod:`.anomaly`): TS2Vec's masked-vs-unmasked representation
  error; the decision rule and point-adjusted F1 for any score
  (:mod:`.anomaly_scoring`); two simple scores to compare with
  (:mod:`.anomaly_baselines`: rolling z-score, 1-NN discord distance).
- Baselines (:mod:`.baselines`): 1-NN-ED, 1-NN-DTW-D and 1-NN-DTW-I.
- Generation (:mod:`.generative`): FID, IS and CAS of generated series with a
  supervised FCN (:mod:`.fcn`), the TimeVQVAE / NC-VQVAE protocol.
"""

from .anomaly import (
    AnomalySeries,
    adf_differences,
    adjusted_errors,
    evaluate_anomaly_detection,
    load_ucr_anomaly,
    mask_last_encode,
    masked_errors,
    standardised_differences,
)
from .anomaly_baselines import discord_distance, dominant_period, rolling_zscore
from .anomaly_scoring import (
    evaluate_anomaly_scores,
    flag_anomalies,
    point_adjust,
    point_adjusted_scores,
    suppress_nearby,
    ts2vec_threshold,
)
from .baselines import NearestNeighborBaseline, pairwise_distances
from .classification import (
    CLASSIFICATION_PROTOCOLS,
    UCR_NOT_NORMALISED,
    evaluate_classification,
    fit_knn,
    fit_linear_svm,
    fit_logistic,
    fit_svm,
    ts2vec_normalise,
)
from .fcn import FCNClassifier, FCNNetwork
from .forecasting import (
    RIDGE_ALPHAS,
    ForecastData,
    calendar_features,
    causal_encode,
    evaluate_forecasting,
    evaluate_window_forecasting,
    fit_ridge,
    forecast_samples,
    load_ett,
    split_for_fit,
)
from .generative import (
    accuracy_ema,
    cas,
    evaluate_generation,
    fid,
    frechet_distance,
    inception_score,
    stft_round_trip,
    synthetic_class_counts,
)

__all__ = [
    "AnomalySeries",
    "CLASSIFICATION_PROTOCOLS",
    "FCNClassifier",
    "FCNNetwork",
    "ForecastData",
    "NearestNeighborBaseline",
    "RIDGE_ALPHAS",
    "UCR_NOT_NORMALISED",
    "accuracy_ema",
    "adf_differences",
    "adjusted_errors",
    "calendar_features",
    "cas",
    "causal_encode",
    "discord_distance",
    "dominant_period",
    "evaluate_anomaly_detection",
    "evaluate_anomaly_scores",
    "evaluate_classification",
    "evaluate_forecasting",
    "evaluate_generation",
    "evaluate_window_forecasting",
    "fid",
    "fit_knn",
    "fit_linear_svm",
    "fit_logistic",
    "fit_ridge",
    "fit_svm",
    "flag_anomalies",
    "forecast_samples",
    "frechet_distance",
    "inception_score",
    "load_ett",
    "load_ucr_anomaly",
    "mask_last_encode",
    "masked_errors",
    "pairwise_distances",
    "point_adjust",
    "point_adjusted_scores",
    "rolling_zscore",
    "split_for_fit",
    "standardised_differences",
    "stft_round_trip",
    "suppress_nearby",
    "synthetic_class_counts",
    "ts2vec_normalise",
    "ts2vec_threshold",
]
