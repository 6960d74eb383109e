# syntax=docker/dockerfile:1
# ORCA Ops Console image: the console, its worker and the CLI (one image, different commands).
# Two stages: "build" installs the pinned dependencies into a virtualenv; "runtime" copies only
# that virtualenv and the app files onto a fresh slim base (no compilers, no pip cache).
# The base is pinned to an exact tag; pin its digest too in your registry mirror
# (docker buildx imagetools inspect python:3.11.14-slim-bookworm) and pass it as PYTHON_IMAGE.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY dashboard ./dashboard
# Pinned by the lock; no [embedded] extra: production uses managed PostgreSQL and Redis.
RUN pip install -c constraints.txt . && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH \
    ORCA_ENV=production ORCA_LOG_FORMAT=json ORCA_STATE_DIR=/tmp/orca-state HOME=/tmp
# The report PDFs are set in DejaVu Sans (wide Unicode coverage for agent names); without it
# they fall back to reportlab's Vera and render differently. Nothing else from Debian: the
# runtime needs no poppler (only the tests read PDFs back).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 --user-group orca
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root streamlit_app.py asgi.py ./
COPY --chown=root:root pages ./pages
COPY --chown=root:root .streamlit ./.streamlit
COPY --chown=root:root data ./data
# The app files belong to root and are read-only for the process; it runs as uid 10001.
USER 10001:10001
EXPOSE 8501 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"]
# Migrations are their own one-shot step (`orca-dashboard migrate`: compose service / k8s Job),
# never part of this command. ORCA_DATABASE_URL and ORCA_REDIS_URL point at managed servers.
CMD ["python", "-m", "dashboard.ui.serve", "--server.port", "8501", "--server.address", "0.0.0.0", "--server.headless", "true"]
