"""The ``ai-worker`` command. The worker itself runs as ``dramatiq actors``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.settings import ConfigurationError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ai-worker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="build a knowledge graph from a chat history, no servers needed")
    demo.add_argument("path", nargs="?", type=Path, help="a ChatGPT export JSON file or a bundle folder")
    demo.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: ./out)")
    demo.add_argument("--language", default="ko", help="language of cluster names (ko, en, zh, ...)")

    queues = commands.add_parser(
        "queues", help="create request, result and dead-letter queues and the bucket"
    )
    queues.add_argument("--prefix", default="ai-worker")

    enqueue = commands.add_parser("enqueue", help="upload an input and send the backend's envelope for it")
    enqueue.add_argument(
        "task_type", choices=["GRAPH_GENERATION_REQUEST", "ADD_NODE_REQUEST", "GRAPH_SUMMARY_REQUEST"]
    )
    enqueue.add_argument("path", type=Path, help="file or bundle folder")
    enqueue.add_argument("--user", default="local-user")
    enqueue.add_argument("--task-id")
    enqueue.add_argument("--language", default="ko")

    results = commands.add_parser("results", help="print answers from the result queue")
    results.add_argument("--follow", action="store_true", help="keep waiting for more")

    dlq = commands.add_parser("dlq", help="list dead-lettered messages")
    dlq.add_argument("--redrive", action="store_true", help="move them back to the request queue")

    health = commands.add_parser(
        "health", help="exit 0 if the worker's consumer is live (its heartbeat file is fresh), else 1"
    )
    health.add_argument("--max-age", type=float, help="seconds the heartbeat file may be old")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from demo.run import run_demo

        if args.path is not None and not args.path.exists():
            print(f"ai-worker demo: no such file or folder: {args.path}", file=sys.stderr)
            return 2
        return run_demo(args.path, args.out, language=args.language)

    if args.command == "health":
        return _health(args.max_age)

    from cli import local
    from core.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)  # logs on stderr; stdout is the output
    if args.command == "queues":
        for name, url in local.create_queues(settings, args.prefix).items():
            print(f"export {name}={url}")
    elif args.command == "enqueue":
        from core.services import Services

        task_id = args.task_id or local.new_task_id(args.task_type, args.user)
        key = local.upload_input(Services(settings).blobs, args.task_type, task_id, args.path)
        envelope = local.backend_envelope(args.task_type, task_id, args.user, key, settings.s3_payload_bucket)
        local.send_envelope(settings, envelope)
        print(json.dumps(envelope, ensure_ascii=False))
    elif args.command == "results":
        for answer in local.read_results(settings, follow=args.follow):
            print(json.dumps(answer, ensure_ascii=False), flush=True)
    elif args.command == "dlq":
        for body in local.dead_letters(settings, redrive=args.redrive):
            print(body)
    return 0


def _health(max_age: float | None) -> int:
    """The container health check: the worker process touches the file from a live consumer."""
    from middleware.liveness import MAX_AGE, is_fresh

    path = load_settings().health_file
    if is_fresh(path, MAX_AGE if max_age is None else max_age):
        return 0
    print(f"ai-worker health: {path} is missing or stale: no live consumer", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
