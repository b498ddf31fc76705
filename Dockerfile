# syntax=docker/dockerfile:1
# The production image of the AI worker. Its default command is the Dramatiq worker that consumes
# the SQS request queue (see infra/ecs/worker-task-definition.json); the model weights and the
# Korean analyser ship inside the installed packages, so the container needs no network but AWS.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv with CPU-only torch and the project ------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv

# CPU-only torch first, from PyTorch's own index: the project's `torch==2.13.0` is then already
# satisfied (2.13.0+cpu) and pip never pulls the CUDA wheels (several GB) from PyPI.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# The dependencies alone, from pyproject.toml: this layer is rebuilt only when they change,
# not on every source edit.
WORKDIR /build
COPY pyproject.toml README.md ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# The top-level packages (actors/, middleware/, core/, ...): .dockerignore admits nothing else.
COPY . ./
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install . \
    && python -c "import torch; assert not torch.cuda.is_available() and '+cpu' in torch.__version__, torch.__version__"

# --- runtime: the virtualenv on a clean base, as an unprivileged user ---------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    ANONYMIZED_TELEMETRY=False \
    TOKENIZERS_PARALLELISM=false \
    LOG_FORMAT=json

RUN groupadd --system --gid 10001 worker \
    && useradd --system --uid 10001 --gid worker --home-dir /home/worker --create-home \
        --shell /usr/sbin/nologin worker \
    && install -d -o worker -g worker /app

COPY --from=build /opt/venv /opt/venv

# Relative fallbacks (BLOB_DIR=var/blobs, CHROMA_PATH=var/chroma) land in /app, which the worker owns.
WORKDIR /app
USER 10001:10001

# Liveness of the worker process (ECS runs the same command: see the task definition).
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 CMD ["ai-worker", "health"]

# The worker, exactly as everywhere else. `actors` is imported from the virtualenv (nothing in /app
# shadows it); threads and the shutdown budget (inside ECS's stopTimeout of 120 s) come from
# WORKER_THREADS and WORKER_SHUTDOWN_SECONDS, whatever Dramatiq's own flags would say.
CMD ["dramatiq", "actors"]
