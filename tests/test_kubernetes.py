"""Static tier: the Kubernetes manifests validate against the schemas and keep their promises."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.bake import Baked, bakes_where, combination_params

KUBERNETES_VERSION = "1.33.0"
WITH_KUBERNETES = bakes_where(no_docker="no")


def manifests(project: Path) -> dict[str, dict]:
    folder = project / "deploy/k8s"
    return {
        path.name: yaml.safe_load(path.read_text())
        for path in sorted(folder.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    }


def pod_specs(documents: dict[str, dict]) -> list[dict]:
    return [
        documents[name]["spec"]["template"]["spec"]
        for name in ("deployment.yaml", "migration-job.yaml")
    ]


@pytest.mark.parametrize("baked", combination_params(WITH_KUBERNETES), indirect=True)
def test_every_manifest_validates_against_the_kubernetes_schemas(baked: Baked) -> None:
    folder = baked.path / "deploy/k8s"
    files = sorted(str(p) for p in folder.glob("*.yaml") if p.name != "kustomization.yaml")
    result = subprocess.run(
        ["kubernetes-validate", "--strict", "--kubernetes-version", KUBERNETES_VERSION, *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" passed for resource ") == len(files), result.stdout


@pytest.mark.parametrize("baked", combination_params(WITH_KUBERNETES), indirect=True)
def test_kustomization_lists_every_manifest_and_names_the_image(baked: Baked) -> None:
    folder = baked.path / "deploy/k8s"
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(manifests(baked.path))
    image = kustomization["images"][0]["name"]
    for spec in pod_specs(manifests(baked.path)):
        assert [c["image"] for c in spec["containers"]] == [image]


@pytest.mark.parametrize("baked", combination_params(WITH_KUBERNETES), indirect=True)
def test_pods_run_hardened_with_probes_and_a_secret_database_url(baked: Baked) -> None:
    documents = manifests(baked.path)
    dockerfile = (baked.path / "Dockerfile").read_text()
    for spec in pod_specs(documents):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert f"USER {spec['securityContext']['runAsUser']}:" in dockerfile
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert "requests" in container["resources"]
            assert "limits" in container["resources"]
            database = next(e for e in container["env"] if e["name"] == "DATABASE_URL")
            assert set(database) == {"name", "valueFrom"}  # a Secret reference, never a value
            assert "secretKeyRef" in database["valueFrom"]
    api = documents["deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert documents["migration-job.yaml"]["spec"]["template"]["spec"]["containers"][0][
        "command"
    ] == ["alembic", "upgrade", "head"]
    grace = int(documents["configmap.yaml"]["data"]["SHUTDOWN_GRACE_SECONDS"])
    assert (
        grace
        < documents["deployment.yaml"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    )
    assert {"pdb.yaml", "hpa.yaml", "service.yaml"} <= set(documents)


@pytest.mark.parametrize("baked", combination_params(WITH_KUBERNETES), indirect=True)
def test_the_pod_drains_before_it_is_killed_and_probes_outwait_the_app(baked: Baked) -> None:
    """The preStop delay, then SIGTERM and the server's grace, all inside the kill timeout;
    the readiness probe waits longer than the app's own readiness bound; the keep-alive is
    above the 60 s idle timeout of common load balancers (record 0025)."""
    documents = manifests(baked.path)
    pod = documents["deployment.yaml"]["spec"]["template"]["spec"]
    api = pod["containers"][0]
    settings = documents["configmap.yaml"]["data"]
    command = api["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = int(command[1])
    assert pre_stop > 0
    grace = int(settings["SHUTDOWN_GRACE_SECONDS"])
    assert pre_stop + grace < pod["terminationGracePeriodSeconds"]
    assert api["readinessProbe"]["timeoutSeconds"] > float(settings["READINESS_TIMEOUT_SECONDS"])
    assert all(api[probe]["timeoutSeconds"] >= 2 for probe in ("startupProbe", "livenessProbe"))
    assert int(settings["KEEP_ALIVE_SECONDS"]) > 60
    compose = yaml.safe_load((baked.path / "docker-compose.yml").read_text())
    stop_grace = compose["services"]["api"]["stop_grace_period"]
    assert int(stop_grace.removesuffix("s")) > grace


def test_kubernetes_can_be_left_out(render) -> None:
    project = render(kubernetes="no")
    assert not (project / "deploy").exists()
    assert not (project / "docs/decisions/0015-kubernetes-manifests.md").exists()
    assert "deploy/k8s" not in (project / "README.md").read_text()
    assert "0015" not in (project / "docs/decisions/README.md").read_text()


def test_no_docker_leaves_kubernetes_out(render) -> None:
    project = render(no_docker="yes")
    assert not (project / "deploy").exists()


def test_the_database_bounds_answer_before_the_probe_and_the_gateway_give_up(render) -> None:
    """Record 0023: /readyz answers within READINESS_TIMEOUT_SECONDS, below the probe's own
    timeout; a request's database deadline ends well within a gateway's usual 15 s."""
    documents = manifests(render())
    settings = documents["configmap.yaml"]["data"]
    api = documents["deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    assert float(settings["READINESS_TIMEOUT_SECONDS"]) < api["readinessProbe"]["timeoutSeconds"]
    assert float(settings["DB_REQUEST_DEADLINE_SECONDS"]) <= 10
    assert float(settings["DB_STATEMENT_TIMEOUT_SECONDS"]) < float(
        settings["DB_COMMAND_TIMEOUT_SECONDS"]
    )
