"""Docker and Kubernetes files: no engine or cluster runs here, so they are checked offline.

Every Kubernetes manifest, the base and each rendered overlay, is validated against the
Kubernetes JSON schemas shipped in the ``kubernetes-validate`` package (strict: unknown fields
fail). The overlays are rendered by :func:`render` below (the subset of Kustomize the overlays
use); where kubectl is installed its own ``kubectl kustomize`` output must agree with it.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "kubernetes"
KUBE_VERSION = "1.31.0"
NAMESPACE = "orca-system"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}

Doc = dict[str, Any]


# -- a small Kustomize renderer -------------------------------------------------------------
def _merge(base: Any, patch: Any) -> Any:
    """Strategic merge as Kustomize does it for these kinds: maps merge key by key, lists of
    maps with a ``name`` merge item by name, every other list is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in base + patch)
    ):
        merged = [copy.deepcopy(i) for i in base]
        for item in patch:
            for pos, old in enumerate(merged):
                if old["name"] == item["name"]:
                    merged[pos] = _merge(old, item)
                    break
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(patch)


def _pod_spec(doc: Doc) -> Doc | None:
    if doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        spec: Doc = doc["spec"]["template"]["spec"]
        return spec
    return None


def render(folder: Path) -> list[Doc]:
    """The manifests a ``kustomization.yaml`` in ``folder`` stands for."""
    kust = yaml.safe_load((folder / "kustomization.yaml").read_text())
    docs: list[Doc] = []
    for resource in kust.get("resources", []):
        path = (folder / resource).resolve()
        if path.is_dir():
            docs.extend(render(path))
        else:
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    for patch_ref in kust.get("patches", []):
        patch = yaml.safe_load((folder / patch_ref["path"]).read_text())
        hits = [
            i
            for i, d in enumerate(docs)
            if d["kind"] == patch["kind"] and d["metadata"]["name"] == patch["metadata"]["name"]
        ]
        assert len(hits) == 1, f"patch {patch_ref['path']} matches {len(hits)} resources"
        docs[hits[0]] = _merge(docs[hits[0]], patch)
    for doc in docs:
        meta = doc["metadata"]
        if "namespace" in kust and doc["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = kust["namespace"]
        for label in kust.get("labels", []):
            assert not label.get("includeSelectors"), "the renderer adds metadata labels only"
            meta.setdefault("labels", {}).update(label["pairs"])
        for rep in kust.get("replicas", []):
            if doc["kind"] == "Deployment" and meta["name"] == rep["name"]:
                doc["spec"]["replicas"] = rep["count"]
        pod = _pod_spec(doc)
        if pod is None:
            continue
        for image in kust.get("images", []):
            for container in pod["containers"] + pod.get("initContainers", []):
                name, _, old_tag = container["image"].partition(":")
                if name == image["name"]:
                    new = image.get("newName", name)
                    tag = image.get("newTag", old_tag)
                    container["image"] = f"{new}:{tag}" if tag else new
    return docs


def _key(doc: Doc) -> tuple[str, str]:
    return (doc["kind"], doc["metadata"]["name"])


def _by_key(docs: list[Doc]) -> dict[tuple[str, str], Doc]:
    out = {_key(d): d for d in docs}
    assert len(out) == len(docs), "two resources share a kind and name"
    return out


RENDERINGS = {
    "base": K8S / "base",
    "dev": K8S / "overlays" / "dev",
    "prod": K8S / "overlays" / "prod",
}


# -- Kubernetes -----------------------------------------------------------------------------
def test_renderer_merges_named_lists_and_replaces_others() -> None:
    base = {"c": [{"name": "a", "x": 1}, {"name": "b", "x": 2}], "p": [1, 2], "m": {"k": 1}}
    patch = {"c": [{"name": "b", "x": 3}, {"name": "z"}], "p": [9], "m": {"j": 2}}
    assert _merge(base, patch) == {
        "c": [{"name": "a", "x": 1}, {"name": "b", "x": 3}, {"name": "z"}],
        "p": [9],
        "m": {"k": 1, "j": 2},
    }


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_every_manifest_validates_against_the_kubernetes_schemas(name: str) -> None:
    docs = render(RENDERINGS[name])
    assert len(docs) >= 12
    for doc in docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == NAMESPACE, _key(doc)


def test_every_file_under_deploy_kubernetes_is_used_and_valid() -> None:
    used: set[Path] = set()
    for folder in RENDERINGS.values():
        kust = yaml.safe_load((folder / "kustomization.yaml").read_text())
        used |= {(folder / r).resolve() for r in kust.get("resources", [])}
        used |= {(folder / p["path"]).resolve() for p in kust.get("patches", [])}
    files = {p.resolve() for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert files == {p for p in used if p.is_file()}, "a manifest no kustomization lists"
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if not any(
                path == (K8S / "overlays" / o).resolve() / path.name for o in ("dev", "prod")
            ):
                kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_validation_would_catch_a_wrong_field() -> None:
    doc = _by_key(render(RENDERINGS["base"]))[("Deployment", "orca-console")]
    broken = copy.deepcopy(doc)
    broken["spec"]["template"]["spec"]["containers"][0]["resources"]["limit"] = {"cpu": "1"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_console_and_worker_are_production_shaped(name: str) -> None:
    docs = _by_key(render(RENDERINGS[name]))
    console = docs[("Deployment", "orca-console")]
    worker = docs[("Deployment", "orca-worker")]
    for dep in (console, worker):
        pod = dep["spec"]["template"]["spec"]
        assert dep["spec"]["selector"]["matchLabels"].items() <= (
            dep["spec"]["template"]["metadata"]["labels"].items()
        )
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        (container,) = pod["containers"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert container["readinessProbe"] and container["livenessProbe"]
        refs = [e.get("secretRef", {}).get("name") for e in container["envFrom"]]
        assert "orca-secrets" in refs
        assert not any("value" in e and "PASSWORD" in e["name"] for e in container.get("env", []))
    console_c = console["spec"]["template"]["spec"]["containers"][0]
    assert console_c["readinessProbe"]["httpGet"]["path"] == "/_stcore/health"
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "orca-dashboard",
        "worker",
    ]
    if name != "dev":
        assert console["spec"]["replicas"] >= 2
        assert worker["spec"]["replicas"] == 2  # one leads by the advisory lock, one stands by
    job = docs[("Job", "orca-migrate")]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "orca-dashboard",
        "migrate",
    ]
    for dep in (console, worker):
        assert "migrate" not in " ".join(
            dep["spec"]["template"]["spec"]["containers"][0].get("command", [])
        )


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_service_ingress_hpa_pdb_and_network_policy(name: str) -> None:
    docs = _by_key(render(RENDERINGS[name]))
    service = docs[("Service", "orca-console")]
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    ingress = docs[("Ingress", "orca-console")]
    tls_hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
    assert {r["host"] for r in ingress["spec"]["rules"]} <= tls_hosts
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    hpa = docs[("HorizontalPodAutoscaler", "orca-console")]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "orca-console"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["averageUtilization"] == 80
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    pdb = docs[("PodDisruptionBudget", "orca-console")]
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"] or name == "dev"
    deny = docs[("NetworkPolicy", "orca-default-deny")]
    assert deny["spec"]["podSelector"] == {} and set(deny["spec"]["policyTypes"]) == {
        "Ingress",
        "Egress",
    }
    config = docs[("ConfigMap", "orca-dashboard")]
    assert not any(
        re.search("PASSWORD|COOKIE_KEY|SECRET_KEY|DATABASE_URL|REDIS_URL", k)
        for k in config["data"]
    ), "secrets belong in orca-secrets, not the ConfigMap"


def test_overlays_change_what_they_say() -> None:
    dev = _by_key(render(RENDERINGS["dev"]))
    prod = _by_key(render(RENDERINGS["prod"]))
    assert dev[("ConfigMap", "orca-dashboard")]["data"]["ORCA_LOG_LEVEL"] == "DEBUG"
    prod_console = prod[("Deployment", "orca-console")]["spec"]["template"]["spec"]
    assert (
        prod_console["containers"][0]["image"] == "registry.example.com/orca/orca-dashboard:0.1.0"
    )
    assert prod_console["containers"][0]["resources"]["limits"]["memory"] == "2Gi"
    assert prod_console["containers"][0]["readinessProbe"], "the patch kept the probes"
    assert prod[("HorizontalPodAutoscaler", "orca-console")]["spec"]["minReplicas"] == 3


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("name", ["dev", "prod"])
def test_render_agrees_with_kubectl_kustomize(name: str) -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(RENDERINGS[name])],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    theirs = _by_key([d for d in yaml.safe_load_all(out) if d])
    ours = _by_key(render(RENDERINGS[name]))
    assert theirs == ours


# -- Docker Compose -------------------------------------------------------------------------
COMPOSE = ["docker-compose.yml", "docker-compose.prod.yml"]
LONG_RUNNING = {"postgres", "redis", "otel-collector", "worker", "console", "orca-core"}


@pytest.mark.parametrize("file", COMPOSE)
def test_compose_services_health_limits_and_volumes(file: str) -> None:
    doc = yaml.safe_load((ROOT / file).read_text())
    services = doc["services"]
    assert LONG_RUNNING | {"migrate"} <= set(services)
    assert "pgvector" in services["postgres"]["image"] and "pg16" in services["postgres"]["image"]
    assert services["redis"]["image"].startswith("redis:7")
    for name, svc in services.items():
        assert svc["deploy"]["resources"]["limits"]["memory"], name
        assert svc["deploy"]["resources"]["limits"]["cpus"], name
        assert ":latest" not in svc.get("image", ""), name
        if name in LONG_RUNNING:
            assert svc["healthcheck"]["test"], name
            assert svc["restart"] in {"always", "unless-stopped"}, name
    assert services["migrate"]["command"] == ["orca-dashboard", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["worker"]["command"] == ["orca-dashboard", "worker"]
    for dependent in ("worker", "console"):
        assert services[dependent]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert services["orca-core"]["profiles"] == ["demo"]
    assert {"pgdata", "backups"} <= set(doc["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert any(v.startswith("backups:") for v in services["postgres"]["volumes"])
    collector = services["otel-collector"]
    (mount,) = collector["volumes"]
    config = yaml.safe_load((ROOT / mount.split(":")[0]).read_text())
    assert "otlp" in config["receivers"] and config["service"]["pipelines"]["traces"]
    assert services["console"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4318")


@pytest.mark.parametrize("file", COMPOSE)
def test_compose_secrets_come_from_the_environment(file: str) -> None:
    doc = yaml.safe_load((ROOT / file).read_text())
    for name, svc in doc["services"].items():
        env = svc.get("environment", {})
        for key, value in env.items():
            if re.search("PASSWORD|COOKIE_KEY|SECRET_KEY", key):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (name, key)
        url = env.get("ORCA_DATABASE_URL")
        if url:
            assert "${ORCA_DB_PASSWORD" in url, name


def test_prod_compose_runs_production_hardened() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.prod.yml").read_text())["services"]
    for name in ("console", "worker", "migrate"):
        svc = services[name]
        assert svc["environment"]["ORCA_ENV"] == "production"
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
        assert "build" not in svc
    assert "ports" not in services["postgres"] and "ports" not in services["redis"]
    assert services["worker"]["deploy"]["replicas"] == 2


# -- Dockerfile -----------------------------------------------------------------------------
def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_dockerfile_is_multi_stage_pinned_non_root_with_health_check() -> None:
    text = _dockerfile()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    assert len(stages) >= 2, "multi-stage"
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, re.M)
    assert base is not None
    image = base.group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", image), image
    assert "COPY --from=build /opt/venv /opt/venv" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    health = re.search(r"^HEALTHCHECK .*?$(?:\n\s+.*$)*", text, re.M)
    assert health is not None and "/_stcore/health" in health.group(0)
    cmd = re.findall(r"^CMD (.*)$", text, re.M)[-1]
    assert "migrate" not in cmd, "migrations are their own step"


def test_dockerfile_copies_what_the_app_needs() -> None:
    text = _dockerfile()
    for part in (
        "COPY dashboard",
        "COPY --chown=root:root pages",
        "streamlit_app.py asgi.py",
        "EXPOSE 8501",
    ):
        assert part in text
    for path in ("dashboard", "pages", "streamlit_app.py", ".streamlit", "data"):
        assert (ROOT / path).exists(), path


def test_dockerfile_installs_from_the_lock_without_embedded_servers() -> None:
    text = _dockerfile()
    assert "COPY pyproject.toml README.md constraints.txt" in text
    assert "pip install -c constraints.txt ." in text
    assert "embedded" not in text.split("RUN pip install", 1)[1].splitlines()[0]
    lock = (ROOT / "constraints.txt").read_text().splitlines()
    pins = [line for line in lock if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins), "every line of the lock is a pin"
    for dep in ("opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http", "prometheus"):
        assert any(line.lower().startswith(dep) for line in pins), dep


def test_runtime_image_carries_the_report_font_and_no_poppler() -> None:
    from dashboard.reports import pdf

    runtime = _dockerfile().split(" AS runtime", 1)[1]
    installs = re.findall(r"apt-get install ([^&]*)", runtime)
    assert installs, "the runtime stage installs the report font"
    packages = {p for line in installs for p in line.replace("\\", " ").split() if p[0] != "-"}
    assert pdf.FONT_PACKAGE in packages
    assert "--no-install-recommends" in installs[0]
    assert "rm -rf /var/lib/apt/lists/*" in runtime
    assert not any("poppler" in p for p in packages), "the runtime reads no PDFs"
    # The renderer looks where Debian's package puts the fonts, and uses them when present
    # (this machine has them: the same font as in the image).
    assert pdf._FONT_DIRS[0] == Path("/usr/share/fonts/truetype/dejavu")
    assert all((pdf._FONT_DIRS[0] / name).is_file() for name in pdf.FONT_FILES)
    assert pdf.FONT == "OrcaSans"
    from reportlab.pdfbase import pdfmetrics

    face = pdfmetrics.getFont(pdf.FONT).face
    assert "DejaVu" in str(getattr(face, "name", b"")), face
