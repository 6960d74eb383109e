"""Docker and Kubernetes files: no engine runs here, so they are checked by parsing."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_services_and_env() -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    assert {"postgres", "redis", "migrate", "worker", "console"} <= set(services)
    assert services["console"]["environment"]["ORCA_DATABASE_URL"].startswith("postgresql://")
    assert services["worker"]["command"] == ["orca-dashboard", "worker"]
    assert "pgvector" in services["postgres"]["image"]


def test_kubernetes_manifests() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy/kubernetes/console.yaml").read_text()))
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert ("Deployment", "orca-console") in kinds
    assert ("Deployment", "orca-worker") in kinds
    for d in docs:
        if d["kind"] == "Deployment":
            pod = d["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert (
                d["spec"]["selector"]["matchLabels"] == d["spec"]["template"]["metadata"]["labels"]
            )


def test_dockerfile_copies_what_the_app_needs() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for part in (
        "COPY dashboard",
        "COPY pages",
        "COPY streamlit_app.py",
        "USER orca",
        "EXPOSE 8501",
    ):
        assert part in text
    for path in ("dashboard", "pages", "streamlit_app.py", ".streamlit", "data"):
        assert (ROOT / path).exists(), path


def test_dockerfile_installs_from_the_lock_without_embedded_servers() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "COPY pyproject.toml README.md constraints.txt" in text
    assert "pip install -c constraints.txt ." in text
    assert "embedded" not in text.split("RUN pip install", 1)[1].splitlines()[0]
    lock = (ROOT / "constraints.txt").read_text().splitlines()
    pins = [line for line in lock if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins), "every line of the lock is a pin"
    assert not any(line.lower().startswith("opentelemetry") for line in pins)
