"""The deployment files give each registry process what it is measured to need."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"

# What one process that builds search documents (the outbox drain in `registry search worker`
# and, inline, in every API process; `registry search reindex`) holds once the analysis caches
# of services/search/documents.py and analysis.py are full: measured 1,038 MB after building
# 240,000 distinct profiles (a plateau from about 140,000), 1,042 MB in the 1M rebuild
# benchmark; the libraries and a batch in flight come on top.
SEARCH_PROCESS_MIB = 1200

_UNITS = {"": 1 / 2**20, "b": 1 / 2**20, "k": 1 / 2**10, "m": 1, "g": 2**10}


def _default(value: str) -> str:
    """A compose value with each `${NAME:-default}` replaced by its default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def _mib(quantity: str) -> float:
    """A Kubernetes (`768Mi`, `2Gi`) or compose (`512m`, `1g`) memory size, in MiB."""
    found = re.fullmatch(r"([\d.]+)\s*([a-zA-Z]*)", _default(str(quantity)))
    assert found, quantity
    number, unit = found.groups()
    return float(number) * _UNITS[unit.lower().removesuffix("i")]


def _processes(args: list[str]) -> int:
    """How many document-building processes a container command runs (0: none)."""
    words = _default(" ".join(args))
    if "registry serve" in words:
        workers = re.search(r"--workers[ =](\d+)", words)
        return int(workers.group(1)) if workers else 1
    return int("registry search worker" in words or "registry search reindex" in words)


def _k8s_manifests() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    return [
        manifest
        for resource in kustomization["resources"]
        for manifest in yaml.safe_load_all((DEPLOY / "k8s" / resource).read_text())
    ]


def _k8s_containers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for manifest in _k8s_manifests():
        spec = manifest.get("spec", {})
        if manifest["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        for container in spec.get("template", {}).get("spec", {}).get("containers", []):
            found.append((f"{manifest['kind']}/{manifest['metadata']['name']}", container))
    return found


def test_every_process_that_builds_search_documents_has_memory_for_its_caches() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    short = []
    for name, service in compose["services"].items():
        processes = _processes([str(a) for a in service.get("command", [])])
        if processes:
            limit = service["deploy"]["resources"]["limits"]["memory"]
            if _mib(limit) < processes * SEARCH_PROCESS_MIB:
                short.append(f"compose {name}: {limit} for {processes} process(es)")
    for name, container in _k8s_containers():
        processes = _processes(container.get("args", []))
        if processes:
            limit = container["resources"]["limits"]["memory"]
            if _mib(limit) < processes * SEARCH_PROCESS_MIB:
                short.append(f"{name}: {limit} for {processes} process(es)")
    assert short == []


def test_a_reindex_on_kubernetes_runs_in_a_pod_of_its_own() -> None:
    """Not beside the worker, whose memory limit is sized for one process: the two would
    share it, and one of them would be killed."""
    reindex = [
        name
        for name, container in _k8s_containers()
        if "registry search reindex" in " ".join(container.get("args", []))
    ]
    assert reindex
    readme = (DEPLOY / "README.md").read_text()
    assert "-- registry search reindex" not in readme


def test_the_registry_reaches_opensearch_as_its_own_user_with_a_role_for_its_indices() -> None:
    """Not as admin: the user `registry` holds a role covering the alias and the versioned
    indices the backend creates, created by the setup service from the committed role file."""
    import fnmatch
    import json

    from services.search.backends.opensearch import ALIAS, OpenSearchBackend

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    url = compose["x-registry-env"]["OPENSEARCH_URL"]
    assert url.startswith("http://registry:"), url
    assert "ADMIN" not in url
    services = compose["services"]
    setup = services["opensearch-setup"]
    assert "./opensearch:/setup:ro" in setup["volumes"]
    assert services["worker"]["depends_on"]["opensearch-setup"] == {
        "condition": "service_completed_successfully"
    }
    script = (DEPLOY / "opensearch" / "setup-security.sh").read_text()
    assert "/setup/registry-role.json" in script
    assert "internalusers/registry" in script
    role = json.loads((DEPLOY / "opensearch" / "registry-role.json").read_text())
    patterns = [p for entry in role["index_permissions"] for p in entry["index_patterns"]]
    concrete = OpenSearchBackend("http://localhost:9200").index_name()
    for name in (ALIAS, concrete):
        assert any(fnmatch.fnmatch(name, p) for p in patterns), name
    assert not any(fnmatch.fnmatch(".opendistro_security", p) for p in patterns)
    assert {"cluster_monitor", "cluster_composite_ops"} <= set(role["cluster_permissions"])


def test_the_image_installs_pinned_versions_of_every_runtime_dependency() -> None:
    """deploy/constraints.txt pins each dependency pyproject.toml names, at a version its lower
    bound allows, and the image build reads it (the context keeps it despite `deploy/`)."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (DEPLOY / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    project = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]
    for dependency in project["dependencies"]:
        requirement = Requirement(dependency)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not pinned"
        assert requirement.specifier.contains(pins[name]), (name, pins[name])
    assert "-c deploy/constraints.txt" in (DEPLOY / "Dockerfile").read_text()
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignored.index("!deploy/constraints.txt") > ignored.index("deploy/")


def test_memberships_are_refreshed_every_night_on_kubernetes_and_with_compose() -> None:
    """Memberships go into grace and lapse by their dates only when `registry memberships
    refresh` runs: the cluster schedules it daily on Beijing's calendar, one run at a time,
    and the compose stack's README gives the host's cron line for it."""
    refreshes = [
        manifest
        for manifest in _k8s_manifests()
        if manifest["kind"] == "CronJob"
        and "registry memberships refresh"
        in " ".join(
            " ".join(container.get("args", []))
            for container in manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"][
                "containers"
            ]
        )
    ]
    assert len(refreshes) == 1
    spec = refreshes[0]["spec"]
    assert not spec.get("suspend", False)
    assert spec["schedule"].split()[2:] == ["*", "*", "*"]
    assert spec["timeZone"] == "Asia/Shanghai"
    assert spec["concurrencyPolicy"] == "Forbid"
    readme = (DEPLOY / "README.md").read_text()
    assert re.search(
        r"^[\d*/,-]+ [\d*/,-]+ \* \* \* .*compose .*run --rm --no-deps \S+ registry"
        r" memberships refresh",
        readme,
        re.MULTILINE,
    )
