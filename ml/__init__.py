"""Ranking: candidates (sparse retrieval), LightGBM LambdaRank, evaluation, bias, MLflow gate, scoring.

Public API (what the Dagster assets call):

- `ml.candidates.generate_candidates(params, as_of, ...) -> CandidateReport`
- `ml.train.train_and_register(params, as_of, config, tracking_uri, artifact_root, oracle_dir=None)`
  `-> TrainResult`
- `ml.registry.promote_if_better(params, as_of, tracking_uri, config, ...) -> GateDecision`
- `ml.scoring.score(params, as_of, tracking_uri, ...) -> ScoreReport`

Heavy libraries (lightgbm, mlflow, dask) are imported inside the functions that need them.
"""
