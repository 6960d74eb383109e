# ORCA Ops Console image: the console, its worker and the CLI (one image, different commands).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 10001 orca
COPY pyproject.toml README.md constraints.txt ./
COPY dashboard ./dashboard
# Pinned by the lock; no [embedded] extra: production uses managed PostgreSQL and Redis.
RUN pip install -c constraints.txt .
COPY streamlit_app.py asgi.py ./
COPY pages ./pages
COPY .streamlit ./.streamlit
COPY data ./data
USER orca
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"
# Production: ORCA_DATABASE_URL and ORCA_REDIS_URL must point at managed servers.
CMD ["python", "-m", "dashboard.ui.serve", "--server.port", "8501", "--server.headless", "true"]
