#!/usr/bin/env python3
"""Tiny admin helper for the shell-based compat tests (kcat has no admin API).

    admin.py --bootstrap HOST:PORT create TOPIC [--partitions N] [--config k=v ...]
    admin.py --bootstrap HOST:PORT delete TOPIC

Uses confluent-kafka's AdminClient (librdkafka, like kcat). Exits non-zero
with the error on stderr on failure.
"""
import argparse
import sys

from confluent_kafka.admin import AdminClient, NewTopic


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("topic")
    c.add_argument("--partitions", type=int, default=1)
    c.add_argument("--config", action="append", default=[])
    d = sub.add_parser("delete")
    d.add_argument("topic")
    args = ap.parse_args()

    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    if args.cmd == "create":
        cfg = dict(kv.split("=", 1) for kv in args.config)
        fs = admin.create_topics(
            [NewTopic(args.topic, num_partitions=args.partitions,
                      replication_factor=1, config=cfg)],
            operation_timeout=10, request_timeout=15)
    else:
        fs = admin.delete_topics([args.topic], operation_timeout=10,
                                 request_timeout=15)
    for topic, f in fs.items():
        try:
            f.result(timeout=20)
        except Exception as e:  # noqa: BLE001
            print(f"admin {args.cmd} {topic}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
