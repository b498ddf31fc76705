"""The deployment files agree with the worker and with each other.

The image's default command, the ECS task definition, the CloudFormation template and the local
docker-compose stack must all start the same worker (``dramatiq actors``), stop inside
Fargate's kill deadline, set only variables the worker reads, and keep secrets out of plain
environment variables.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator
from dramatiq.cli import make_argument_parser

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
TASK_DEFINITION = ROOT / "infra" / "ecs" / "worker-task-definition.json"
TEMPLATE = ROOT / "infra" / "cloudformation" / "worker.yaml"
COMPOSE = ROOT / "infra" / "docker-compose.yml"

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


def test_task_definition_runs_the_images_worker_command() -> None:
    command = _worker_container()["command"]
    assert command == _image_command()
    assert command[:2] == ["dramatiq", "actors"]


def test_worker_shutdown_fits_inside_the_stop_timeout() -> None:
    stop_timeout = _worker_container()["stopTimeout"]
    assert stop_timeout <= MAX_STOP_TIMEOUT
    # Parsed by Dramatiq's own CLI parser: an unknown or misspelt flag fails here.
    args = make_argument_parser().parse_args(_image_command()[1:])
    assert args.broker == "actors"
    assert args.worker_shutdown_timeout / 1000 < stop_timeout  # milliseconds vs. seconds


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
    assert container["Command"] == _image_command()
    assert container["StopTimeout"] == reference["stopTimeout"]
    assert container["HealthCheck"]["Command"] == reference["healthCheck"]["command"]
    environment = {entry["Name"] for entry in _template_entries(container["Environment"])}
    secrets = {entry["Name"] for entry in _template_entries(container["Secrets"])}
    assert environment == {entry["name"] for entry in reference["environment"]}
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
