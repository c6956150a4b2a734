"""The ``ecomstream`` command line.

Subcommands: ``worker``, ``demo``, ``generate``, ``replay``, ``topics``, ``broker``.
Configuration comes from environment variables (``docs/configuration.md``); a bad
value stops the command with a message naming the variable and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence

from agents.config import VARIABLES, ConfigError, Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        print(f"ecomstream: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_worker(args: argparse.Namespace) -> int:
    from agents.admin import create_topics
    from agents.worker import run_worker

    settings = _settings()
    if not args.no_create_topics:
        create_topics(settings)
    run_worker(settings)
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from agents.admin import create_topics, describe_topics

    settings = _settings()
    if args.action == "create":
        created = create_topics(settings)
        print(f"created {len(created)} topic(s): {', '.join(created) or '-'}")
    for name, partitions in describe_topics(settings).items():
        print(f"{name:32} {partitions if partitions else 'missing'}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from agents.traffic import generate

    settings = _settings()
    sent = generate(settings, rate=args.rate, duration=args.duration,
                    fraud_share=args.fraud_share, seed=args.seed, n_users=args.users,
                    malformed_share=args.malformed_share)
    print(f"sent {sent} events", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import itertools
    from pathlib import Path

    from agents.traffic import READERS, event_time_order, replay

    settings = _settings()
    if args.format == "fraud-handbook":
        # Already in event-time order (labels held back by their delay): streamed, not sorted.
        from agents.evaluate import handbook_replay_events

        events = handbook_replay_events([Path(f) for f in args.file], limit=args.limit,
                                        label_delay_days=args.label_delay_days)
    else:
        read = itertools.chain.from_iterable(READERS[args.format](f) for f in args.file)
        events = event_time_order(itertools.islice(read, args.limit))
    sent = replay(settings, events, progress=not args.quiet, rate=args.rate)
    print(f"replayed {sent} events", file=sys.stderr)
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    from agents.broker import EmbeddedBroker

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with EmbeddedBroker(args.port) as broker:
        print(f"embedded broker on {broker.bootstrap_servers} (Ctrl-C stops it)", flush=True)
        try:
            while broker.proc is not None and broker.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from agents.demo import run_demo

    return run_demo(_settings(), rate=args.rate, fraud_share=args.fraud_share, seed=args.seed)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from agents.evaluate import FRAUD_EVALUATIONS, fraud_main, recommendations_main

    if args.what == "recommendations":
        return recommendations_main(args.rest)
    if args.what in FRAUD_EVALUATIONS:
        return fraud_main(args.what, args.rest)
    raise SystemExit(f"unknown evaluation {args.what!r}")


def cmd_config(args: argparse.Namespace) -> int:
    _settings()
    for var in VARIABLES:
        print(f"{var.name}={os.environ.get(var.name, var.default)}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ecomstream", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("worker", help="run a stream-processing worker")
    p.add_argument("--no-create-topics", action="store_true",
                   help="do not create missing topics at start-up")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("demo", help="broker + topics + worker + traffic + live view")
    p.add_argument("--rate", type=float, default=300.0, help="events per second")
    p.add_argument("--fraud-share", type=float, default=0.02)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("generate", help="send simulated traffic at a steady rate")
    p.add_argument("--rate", type=float, default=500.0, help="events per second")
    p.add_argument("--duration", type=float, default=None, help="seconds (default: forever)")
    p.add_argument("--fraud-share", type=float, default=0.02,
                   help="share of payments that are fraudulent")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--malformed-share", type=float, default=0.0,
                   help="share of messages damaged on purpose (they go to dead-letters)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("replay", help="send a recorded stream in event-time order")
    p.add_argument("file", nargs="+",
                   help="JSON lines (one contract message per line) or dataset file(s)")
    p.add_argument("--format", choices=("jsonl", "taobao", "fraud-handbook"), default="jsonl",
                   help="jsonl: contract messages; taobao: UserBehavior CSV; fraud-handbook: "
                        "the handbook's gzip CSV(s), payments plus labels delayed in event time")
    p.add_argument("--limit", type=int, default=None,
                   help="only the first N records (fraud-handbook: transactions, with labels)")
    p.add_argument("--label-delay-days", type=float, default=7.0,
                   help="fraud-handbook: event-time delay of each label (default 7)")
    p.add_argument("--rate", type=float, default=None,
                   help="events per second (default: as fast as the broker takes them)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("topics", help="create or describe the project's topics")
    p.add_argument("action", choices=("create", "describe"))
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("broker", help="run the embedded broker in the foreground")
    p.add_argument("--port", type=int, default=9092)
    p.set_defaults(func=cmd_broker)

    p = sub.add_parser("evaluate", help="offline evaluations on public datasets")
    p.add_argument("what", choices=("recommendations", "fraud-handbook", "fraud-simulator",
                                    "fraud-cost"))
    p.add_argument("rest", nargs=argparse.REMAINDER,
                   help="e.g. taobao ../shared/datasets/taobao/userbehavior_96k.csv; "
                        "fraud-handbook [--limit N] [--eval-start D]; fraud-simulator --days 60")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("config", help="check the configuration and print it")
    p.set_defaults(func=cmd_config)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
