#!/usr/bin/env bash
# Scheduled retraining, runnable from any scheduler (GitHub Actions, cron, Airflow, a Kubeflow
# recurring run):
#   1. pull the versioned data and the last run's models from the DVC remote;
#   2. `dvc repro`: the stages whose code, parameters or data changed run again; new data for the
#      same model warm-starts training from the registry's champion (training.init_from: auto);
#   3. nothing changed (dvc.lock as before): stop here, exit 0, no report;
#   4. else write the report (gate decision with both scores, metrics diff, sample grid) and push
#      the data and models; the packaging stage has registered the model and applied the gate.
#
#   scripts/retrain.sh                     # KEDRO_ENV=base, compare with HEAD
#   KEDRO_ENV=ci RETRAIN_BASE_REV=main scripts/retrain.sh
#
# Environment: KEDRO_ENV (configuration environment, default base), RETRAIN_BASE_REV (revision to
# compare metrics with, default HEAD), MLFLOW_TRACKING_URI (a team server; unset or empty: the
# embedded SQLite store mlflow.db, which lives only as long as this checkout),
# RETRAIN_ALLOW_BUILTIN_DATA=1 (without a DVC remote, retrain on the data of this checkout instead
# of failing). DVC remote credentials come from the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

export KEDRO_ENV="${KEDRO_ENV:-base}"
export KEDRO_DISABLE_TELEMETRY=true
base_rev="${RETRAIN_BASE_REV:-HEAD}"
report=data/08_reporting/retrain_report.md

if [ -z "${MLFLOW_TRACKING_URI:-}" ]; then
  # An unset CI secret expands to "": MLflow would fall back to ./mlruns, which it refuses.
  unset MLFLOW_TRACKING_URI
  echo "== MLFLOW_TRACKING_URI unset or empty: tracking and registry in the embedded store (mlflow.db)"
fi

if [ -n "$(dvc remote list 2>/dev/null)" ]; then
  echo "== dvc pull"
  dvc pull --allow-missing
elif [ "${RETRAIN_ALLOW_BUILTIN_DATA:-0}" = "1" ]; then
  echo "== no DVC remote; RETRAIN_ALLOW_BUILTIN_DATA=1: retraining on the data of this checkout"
else
  echo "error: no DVC remote is configured, so there is no versioned data to retrain on." >&2
  echo "  Add one (dvc remote add -d storage s3://bucket/path; README, 'Scheduled retraining')," >&2
  echo "  or set RETRAIN_ALLOW_BUILTIN_DATA=1 to retrain on the data of this checkout." >&2
  exit 2
fi

lock_before="$(sha256sum dvc.lock 2>/dev/null || true)"
echo "== dvc repro (KEDRO_ENV=$KEDRO_ENV)"
dvc repro
if [ "$(sha256sum dvc.lock)" = "$lock_before" ]; then
  echo "== nothing changed since the last run (dvc.lock as before): no retraining, no report"
  exit 0
fi

img2img retrain-report --base-rev "$base_rev" --env "$KEDRO_ENV" --output "$report"

if [ -n "$(dvc remote list 2>/dev/null)" ]; then
  echo "== dvc push"
  dvc push
fi
