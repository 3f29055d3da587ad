#!/usr/bin/env python3
"""Multi-item requests (baskets) shopped in the demo world, end to end.

Each line of the requests file is one request, shopped with `concierge ask
--demo --auto-pay --json` in a fresh working directory. Prints, per request,
the outcome, the items bought, the orders paid and the amount spent, then the
totals as one JSON object. `--rules DIR` shops under another rules directory
(say, a copy of rules/ with another `basket_one_order_premium_bp`).

Usage: python3 eval/market/baskets.py [--binary target/release/concierge]
       [--requests tests/data/baskets/demo-requests.txt] [--rules DIR]
"""
import argparse
import json
import os
import subprocess
import tempfile


def shop(binary, request, env):
    with tempfile.TemporaryDirectory() as workdir:
        done = subprocess.run(
            [binary, "ask", "--demo", request, "--auto-pay", "--json"],
            cwd=workdir, env=env, capture_output=True, text=True,
        )
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/concierge")
    parser.add_argument("--requests", default="tests/data/baskets/demo-requests.txt")
    parser.add_argument("--rules")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    env = dict(os.environ)
    if args.rules:
        env["CONCIERGE_RULES"] = os.path.abspath(args.rules)
    totals = {"requests": 0, "items_asked": 0, "items_bought": 0, "orders": 0, "spent_minor": 0}
    with open(args.requests) as lines:
        requests = [line.strip() for line in lines if line.strip()]
    for request in requests:
        report = shop(binary, request, env)
        totals["requests"] += 1
        if report is None:
            print(f"{request!r}: no report")
            continue
        receipts = [report["receipt"]] if report.get("receipt") else []
        receipts += [item["receipt"] for item in report.get("basket", []) if item.get("receipt")]
        bought = sum(len(receipt.get("lines") or [None]) for receipt in receipts)
        spent = sum(receipt["total"]["minor"] for receipt in receipts)
        asked = len(report["intent"]["items"])
        totals["items_asked"] += asked
        totals["items_bought"] += bought
        totals["orders"] += len(receipts)
        totals["spent_minor"] += spent
        print(f"{report['outcome']:<14} {bought}/{asked} items in {len(receipts)} order(s), "
              f"{spent / 100:.2f}: {request}")
    print(json.dumps(totals))


if __name__ == "__main__":
    main()
