"""Ranking: candidates (sparse retrieval), LightGBM LambdaRank, evaluation, bias, the promotion gate, scoring.

Public API (what the Dagster assets call), all read one `ml.config.RankingConfig`:

- `ml.candidates.draw_candidates(params, start, end, ranker, candidates) -> list[CandidateReport]`
  (one date: `ml.candidates.generate_candidates(params, as_of, config, ...)`)
- `ml.train.train_and_register(params, as_of, config, tracking_uri, artifact_root, oracle_dir=None,`
  `pii_key=None) -> TrainResult`
- `ml.gate.promote_if_better(params, tracking_uri, config, challenger_version=None, ...) -> GateDecision`
- `ml.scoring.score(params, as_of, tracking_uri, model_name=..., ...) -> ScoreReport`

Layers (each imports only from the lines below; import-linter contract "ml layers" in pyproject.toml):

    train | gate | scoring | candidates | synthetic   training, promotion, serving, retrieval I/O, test data
    ranker | registry                                 the booster (fit, predict, judged queries); MLflow I/O
    distributed                                       the Dask path of fit and predict
    evaluation | bias | sparse                        ranking metrics and baselines; the 4/5 rule; top-k math
    features | window                                 the model matrix and pair reads; which as-of dates
    io | config                                       COPY in and out; the ranking knobs

Heavy libraries (lightgbm, mlflow, dask) are imported inside the functions that need them.
"""
