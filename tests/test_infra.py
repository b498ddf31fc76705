"""The deployment files agree with the worker and with each other.

The image's default command, the ECS task definition, the CloudFormation template, the local
docker-compose stack, ``infra/local/run-production.sh`` and the README must all start the worker with
exactly ``dramatiq actors`` (threads and shutdown budget come from the environment, not from flags),
stop inside Fargate's kill deadline, set only variables the worker reads, and keep secrets out of
plain environment variables. The image is built from the top-level packages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator
from dramatiq.cli import make_argument_parser

from core.settings import SHUTDOWN_MARGIN_SECONDS, Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
TASK_DEFINITION = ROOT / "infra" / "ecs" / "worker-task-definition.json"
TEMPLATE = ROOT / "infra" / "cloudformation" / "worker.yaml"
COMPOSE = ROOT / "infra" / "docker-compose.yml"
RUN_PRODUCTION = ROOT / "infra" / "local" / "run-production.sh"
README = ROOT / "README.md"
DOCKERIGNORE = ROOT / ".dockerignore"
#: The worker command, everywhere.
WORKER_COMMAND = ["dramatiq", "actors"]

#: Fargate's ceiling for stopTimeout (seconds): SIGKILL follows SIGTERM after it.
MAX_STOP_TIMEOUT = 120
SECRET_NAMES = {"LLM_API_KEY", "SENTRY_DSN"}
SETTING_NAMES = {field.alias for field in Settings.model_fields.values() if field.alias}


def _dockerfile_instruction(keyword: str) -> str:
    """The arguments of the last ``keyword`` instruction (the final stage's), continuation lines joined."""
    joined = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found = [
        line.strip()[len(keyword) :].strip()
        for line in joined.splitlines()
        if line.strip().upper().startswith(keyword + " ")
    ]
    assert found, f"the Dockerfile has no {keyword} instruction"
    return found[-1]


def _image_command() -> list[str]:
    command = json.loads(_dockerfile_instruction("CMD"))
    assert isinstance(command, list) and all(isinstance(part, str) for part in command), (
        "CMD must be a JSON array (exec form), so that the worker receives SIGTERM itself"
    )
    return command


def _task_definition() -> dict[str, Any]:
    return json.loads(TASK_DEFINITION.read_text(encoding="utf-8"))


def _worker_container() -> dict[str, Any]:
    (container,) = (c for c in _task_definition()["containerDefinitions"] if c["name"] == "worker")
    return container


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsics (``!Ref``, ``!If``, ...) read as plain maps."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def _template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)


def _template_worker_container() -> dict[str, Any]:
    definitions = [
        resource
        for resource in _template()["Resources"].values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    ]
    assert len(definitions) == 1
    (container,) = (c for c in definitions[0]["Properties"]["ContainerDefinitions"] if c["Name"] == "worker")
    return container


def _template_entries(items: list[Any]) -> Iterator[dict[str, Any]]:
    """Name/value entries of a template list, both branches of a conditional entry included."""
    for item in items:
        if "Fn::If" in item:
            _, *branches = item["Fn::If"]
            yield from (branch for branch in branches if "Name" in branch)
        else:
            yield item


# --- ECS task definition -----------------------------------------------------------------------


def test_task_definition_is_a_valid_register_task_definition_input() -> None:
    shape = (
        botocore.session.get_session()
        .get_service_model("ecs")
        .operation_model("RegisterTaskDefinition")
        .input_shape
    )
    report = ParamValidator().validate(_task_definition(), shape)
    assert not report.has_errors(), report.generate_report()


def test_task_definition_is_for_fargate() -> None:
    definition = _task_definition()
    assert definition["family"] == "ai-worker"
    assert definition["networkMode"] == "awsvpc"
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert (definition["cpu"], definition["memory"]) == ("2048", "8192")
    assert definition["runtimePlatform"] == {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}


def test_image_and_task_run_exactly_dramatiq_actors() -> None:
    assert _image_command() == WORKER_COMMAND
    assert _worker_container()["command"] == WORKER_COMMAND
    # Parsed by Dramatiq's own CLI parser: the broker module and nothing else.
    args = make_argument_parser().parse_args(WORKER_COMMAND[1:])
    assert (args.broker, args.modules) == ("actors", [])


def test_worker_shutdown_budget_fits_inside_the_stop_timeout() -> None:
    container = _worker_container()
    stop_timeout = container["stopTimeout"]
    assert stop_timeout <= MAX_STOP_TIMEOUT
    environment = {entry["name"]: entry["value"] for entry in container["environment"]}
    settings = Settings(**environment)
    assert settings.worker_shutdown_seconds + SHUTDOWN_MARGIN_SECONDS <= stop_timeout
    assert settings.worker_threads == 1


def test_secrets_come_from_secrets_manager_and_never_from_the_environment() -> None:
    container = _worker_container()
    environment = {entry["name"] for entry in container["environment"]}
    secrets = {entry["name"]: entry["valueFrom"] for entry in container["secrets"]}
    assert not environment & SECRET_NAMES
    assert set(secrets) == SECRET_NAMES
    assert all(arn.startswith("arn:aws:secretsmanager:") for arn in secrets.values())


def test_task_definition_sets_only_worker_settings() -> None:
    container = _worker_container()
    environment = {entry["name"]: entry["value"] for entry in container["environment"]}
    assert set(environment) <= SETTING_NAMES, set(environment) - SETTING_NAMES
    assert {entry["name"] for entry in container["secrets"]} <= SETTING_NAMES
    assert environment["BROKER"] == "sqs"
    assert {"SQS_REQUEST_QUEUE_URL", "SQS_RESULT_QUEUE_URL", "S3_PAYLOAD_BUCKET"} <= set(environment)


def test_image_and_task_run_the_same_health_check_as_a_non_root_user() -> None:
    health = _dockerfile_instruction("HEALTHCHECK")
    image_check = json.loads(health[health.index("CMD") + len("CMD") :])
    assert image_check == ["ai-worker", "health"]
    assert _worker_container()["healthCheck"]["command"] == ["CMD", *image_check]
    assert _dockerfile_instruction("USER").split(":")[0] not in ("root", "0")


# --- CloudFormation template -------------------------------------------------------------------


def test_cloudformation_template_passes_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    if not cfn_lint.exists():
        pytest.skip(f"cfn-lint is not installed next to {sys.executable}")
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cloudformation_container_matches_the_task_definition() -> None:
    container = _template_worker_container()
    reference = _worker_container()
    assert container["Command"] == WORKER_COMMAND
    assert container["StopTimeout"] == reference["stopTimeout"]
    assert container["HealthCheck"]["Command"] == reference["healthCheck"]["command"]
    environment = {entry["Name"] for entry in _template_entries(container["Environment"])}
    secrets = {entry["Name"] for entry in _template_entries(container["Secrets"])}
    assert environment == {entry["name"] for entry in reference["environment"]}
    values = {entry["Name"]: entry["Value"] for entry in _template_entries(container["Environment"])}
    reference_values = {entry["name"]: entry["value"] for entry in reference["environment"]}
    for name in ("WORKER_THREADS", "WORKER_SHUTDOWN_SECONDS"):
        assert values[name] == reference_values[name]
    assert secrets == SECRET_NAMES
    assert not environment & SECRET_NAMES


def test_cloudformation_request_queue_dead_letters_after_five_receives() -> None:
    resources = _template()["Resources"]
    queue = resources["RequestQueue"]["Properties"]
    assert queue["VisibilityTimeout"] == 120
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": "RequestDeadLetterQueue.Arn"}


# --- docker-compose ----------------------------------------------------------------------------


def _compose_services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def test_compose_worker_is_the_image_on_the_sqs_broker() -> None:
    worker = _compose_services()["worker"]
    build = worker["build"]
    dockerfile = (COMPOSE.parent / build["context"] / build.get("dockerfile", "Dockerfile")).resolve()
    assert dockerfile == DOCKERFILE
    assert "command" not in worker and "entrypoint" not in worker, "the worker runs the image's CMD"
    environment = _environment(worker)
    assert environment["BROKER"] == "sqs"
    assert environment["AWS_ENDPOINT_URL"] == "http://moto:5000"
    assert (
        set(environment) - {"AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        <= SETTING_NAMES
    )
    grace = int(str(worker["stop_grace_period"]).removesuffix("s"))
    budget = float(environment["WORKER_SHUTDOWN_SECONDS"])
    assert budget + SHUTDOWN_MARGIN_SECONDS <= grace <= MAX_STOP_TIMEOUT


def test_compose_publishes_ports_on_localhost_only() -> None:
    published = []
    for name, service in _compose_services().items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
            else:
                parts = str(port).split(":")
                host_ip = parts[0] if len(parts) == 3 else None
            assert host_ip == "127.0.0.1", f"{name}: port {port!r} is not bound to 127.0.0.1"
            published.append(port)
    assert published, "the compose file publishes no ports at all"


# --- the local production run, the README ------------------------------------------------------


def test_run_production_starts_exactly_dramatiq_actors() -> None:
    last = RUN_PRODUCTION.read_text(encoding="utf-8").strip().splitlines()[-1]
    assert last == '"$BIN/dramatiq" actors'


def test_readme_names_only_the_plain_worker_command() -> None:
    text = README.read_text(encoding="utf-8")
    assert "`dramatiq actors`" in text
    assert set(re.findall(r"dramatiq actors[^`\n]*", text)) == {"dramatiq actors"}  # never with flags
    for name in ("WORKER_THREADS", "WORKER_SHUTDOWN_SECONDS"):
        assert f"`{name}`" in text


# --- the image's build context -----------------------------------------------------------------


def _packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return sorted(name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"])


def _build_context(target: Path) -> Path:
    """What ``docker build`` sends for this .dockerignore: everything ignored but the ``!`` entries,
    less the excluded patterns under them."""
    rules = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    rules = [rule for rule in rules if rule and not rule.startswith("#")]
    target.mkdir(parents=True)
    assert rules[0] == "*", ".dockerignore must start by ignoring everything"
    admitted = [rule[1:] for rule in rules if rule.startswith("!")]
    excluded = [rule.removeprefix("**/") for rule in rules[1:] if not rule.startswith("!")]
    for name in admitted:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns(*excluded))
        else:
            shutil.copy2(source, target / name)
    return target


def test_image_is_built_from_the_top_level_packages() -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert "src" not in dockerfile.split(), "the packages are top-level: there is no src/"
    assert "COPY . ./" in dockerfile
    rules = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    assert sorted(rule[1:] for rule in rules if rule.startswith("!") and "." not in rule) == _packages()


def test_the_image_context_installs_a_worker_that_starts_from_its_workdir(tmp_path: Path) -> None:
    """The build context as Docker sees it makes a wheel with every package; installed apart from the
    checkout, ``dramatiq actors`` starts from an empty working directory (the image's WORKDIR) and stops
    on SIGTERM within its budget."""
    context = _build_context(tmp_path / "context")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = tmp_path.glob("ai_worker-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"{package}/__init__.py" for package in _packages()} <= names
    assert any(name.startswith("demo/sample/") for name in names)
    assert any(name.startswith("pipelines/data/") for name in names)

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    workdir = tmp_path / "app"
    workdir.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "BROKER": "stub",
        "EMBEDDER": "lexical",
        "BLOB_DIR": str(workdir / "var" / "blobs"),
        "CHROMA_PATH": str(workdir / "var" / "chroma"),
        "HEALTH_FILE": str(workdir / "alive"),
        "WORKER_SHUTDOWN_SECONDS": "5",
        "HF_HUB_OFFLINE": "1",
    }
    where = subprocess.run(
        [sys.executable, "-c", "import actors; print(actors.__file__)"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert where.stdout.strip() == str(site / "actors" / "__init__.py"), where.stderr
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "dramatiq"), *WORKER_COMMAND[1:]],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while "Worker process is ready for action." not in log.read_text(errors="replace"):
                assert worker.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.5)
            stopped = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0
            assert time.monotonic() - stopped < 5 + SHUTDOWN_MARGIN_SECONDS
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
