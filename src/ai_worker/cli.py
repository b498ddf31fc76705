"""The ``ai-worker`` command. The worker itself runs as ``dramatiq ai_worker.actors``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .settings import ConfigurationError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ai-worker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build a knowledge graph from a chat history, no servers needed")
    demo.add_argument("path", nargs="?", type=Path, help="a ChatGPT export JSON file or a bundle folder")
    demo.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: ./out)")
    demo.add_argument("--language", default="ko", help="language of cluster names (ko, en, zh, ...)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from .demo.run import run_demo

            if args.path is not None and not args.path.exists():
                print(f"ai-worker demo: no such file or folder: {args.path}", file=sys.stderr)
                return 2
            return run_demo(args.path, args.out, language=args.language)
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
