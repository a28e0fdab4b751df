"""sslts against the tools practitioners already run: ``python -m benchmarks.vs_practice``.

- :mod:`.classification`: sslts encoders with linear and RBF probes against MiniRocket,
  MultiRocket, 1-NN-ED, 1-NN-DTW and catch22 + a random forest, at several label
  fractions;
- :mod:`.forecasting`: :class:`sslts.EmbeddingForecaster` against the last value, the
  seasonal naive forecast and a ridge regression on raw lags (ETT);
- :mod:`.anomaly`: :class:`sslts.EmbeddingAnomalyDetector` against the matrix profile
  and a moving z-score (UCR anomaly archive);
- :mod:`.common`: the resumable CSV every task appends to, and shared helpers; :mod:`.report`: its
  markdown tables and plots.
"""
