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
