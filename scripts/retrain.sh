#!/usr/bin/env bash
# Scheduled retraining, runnable from any scheduler (GitHub Actions, cron, Airflow, a Kubeflow
# recurring run): pull the versioned data, reproduce every stage that changed, compare the metrics
# with a base revision, push data and models, and write a Markdown report.
#
#   scripts/retrain.sh                 # KEDRO_ENV=base, compare with HEAD
#   KEDRO_ENV=ci RETRAIN_BASE_REV=main scripts/retrain.sh
#
# Environment: KEDRO_ENV (Kedro configuration environment), RETRAIN_BASE_REV (git revision to compare
# metrics against, default HEAD), RETRAIN_REPORT (default data/08_reporting/retrain_report.md),
# MLFLOW_TRACKING_URI (optional team server). DVC remote credentials come from the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

export KEDRO_ENV="${KEDRO_ENV:-base}"
export KEDRO_DISABLE_TELEMETRY=true
base_rev="${RETRAIN_BASE_REV:-HEAD}"
report="${RETRAIN_REPORT:-data/08_reporting/retrain_report.md}"
has_remote() { [ -n "$(dvc remote list 2>/dev/null)" ]; }

if has_remote; then
  echo "== dvc pull"
  dvc pull --allow-missing
else
  echo "== no DVC remote configured: skipping dvc pull (see README, 'Tracking and data versioning')"
fi

echo "== dvc repro (KEDRO_ENV=$KEDRO_ENV)"
dvc repro

mkdir -p "$(dirname "$report")"
{
  echo "# Retraining report"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- configuration: $KEDRO_ENV"
  echo
  echo "## Metrics compared with $base_rev"
  echo
  dvc metrics diff "$base_rev" --md --all || echo "(no metrics to compare)"
} > "$report"
echo "== report written to $report"

if has_remote; then
  echo "== dvc push"
  dvc push
fi
