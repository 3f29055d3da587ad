#!/usr/bin/env python3
"""End to end, the README's way: a real catalog split across three merchants.

Converts the Magento Luma sample catalog (../shared/data/magento-luma) to a
feed, splits it across three merchants (overlapping, so they compete, each
with its own flat shipping), starts each merchant's reference responder with
`concierge merchant serve`, registers it with `concierge merchant register
--allow-loopback`, then shops with `concierge ask --auto-pay --json` for a
seeded sample of in-stock variants ("buy me a <colour> <product> in <size>
under $<price + 25>"). The same requests, made from the demo world's own
catalog, are shopped with `ask --demo` for comparison.

A request succeeds when an order is paid for the product asked, in the colour
and size asked, within the budget. Prints one JSON object with the rates.

Usage: python3 eval/market/three_merchants.py [--binary target/release/concierge]
       [--data ../shared/data/magento-luma] [--requests 60] [--seed 7]
"""
import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(binary, workdir, args, env):
    return subprocess.run([binary, *args], cwd=workdir, env=env, capture_output=True, text=True)


def variants_with(product):
    """(colour, size, price, in stock) of each variant that has both."""
    out = []
    for v in product["variants"]:
        options = {o["name"].lower(): o["value"] for o in v.get("variant_options", [])}
        colour = options.get("color") or options.get("colour")
        size = options.get("size")
        if colour and size and v["availability"]["available"]:
            out.append((colour, size, v["price"]["amount"]))
    return out


def request_for(product, rng):
    choices = variants_with(product)
    if not choices:
        return None
    colour, size, price = rng.choice(choices)
    budget = (price + 2500) // 100
    return {
        "text": f"buy me a {colour.lower()} {product['title']} in size {size} under ${budget}",
        "title": product["title"],
        "colour": colour.lower(),
        "size": size.upper(),
    }


def judge(report, want):
    receipt = report.get("receipt")
    if report.get("outcome") != "bought" or not receipt:
        return False, report.get("outcome")
    variant = receipt.get("variant", "").lower()
    title_ok = want["title"].lower() in receipt.get("product_title", "").lower()
    colour_ok = want["colour"] in variant
    size_ok = want["size"].lower() in [p.strip() for p in variant.split("/")]
    if title_ok and colour_ok and size_ok:
        return True, "bought"
    what = f"{receipt.get('product_title')} ({receipt.get('variant')})"
    if not title_ok:
        return False, f"bought another product: {what}"
    return False, f"bought another variant: {what}"


def shop(binary, workdir, env, requests, extra):
    results = []
    for want in requests:
        started = time.time()
        done = run(binary, workdir, ["ask", "--auto-pay", "--json", *extra, want["text"]], env)
        elapsed = time.time() - started
        try:
            report = json.loads(done.stdout)
        except json.JSONDecodeError:
            results.append({"request": want["text"], "ok": False, "why": done.stderr.strip()[:200], "seconds": elapsed})
            continue
        ok, why = judge(report, want)
        results.append({"request": want["text"], "ok": ok, "why": why, "exit": done.returncode, "seconds": elapsed})
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/concierge")
    parser.add_argument("--data", default="../shared/data/magento-luma")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    data = os.path.abspath(args.data)
    rng = random.Random(args.seed)
    workdir = tempfile.mkdtemp(prefix="concierge-market-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
    env["CONCIERGE_LISTEN"] = f"127.0.0.1:{free_port()}"
    responders = []
    try:
        converted = run(binary, workdir, ["index", "convert", "--format", "magento", "--data", data, "--out", "luma.jsonl"], env)
        if converted.returncode != 0:
            sys.exit(converted.stderr)
        products = [json.loads(line) for line in open(os.path.join(workdir, "luma.jsonl"))]
        # Three merchants: all products; two in three; one in two.
        shares = {
            "north": [p for i, p in enumerate(products)],
            "harbor": [p for i, p in enumerate(products) if i % 3 != 0],
            "summit": [p for i, p in enumerate(products) if i % 2 == 0],
        }
        shipping = {"north": 799, "harbor": 0, "summit": 499}
        for name, share in shares.items():
            with open(os.path.join(workdir, f"{name}.jsonl"), "w") as f:
                for p in share:
                    f.write(json.dumps(p) + "\n")
        for name in shares:
            port = free_port()
            secret, token = f"{name}-secret", f"{name}-verify"
            child = subprocess.Popen(
                [binary, "merchant", "serve", "--feed", f"{name}.jsonl", "--port", str(port),
                 "--app-secret", secret, "--verify-token", token, "--shipping", str(shipping[name])],
                cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            responders.append(child)
            for line in child.stdout:
                if "Ctrl-C stops it" in line:
                    break
            registered = run(binary, workdir, [
                "merchant", "register", "--name", name.title(), "--endpoint", f"http://127.0.0.1:{port}/webhook",
                "--verify-token", token, "--app-secret", secret, "--feed", f"{name}.jsonl", "--allow-loopback"], env)
            if registered.returncode != 0:
                sys.exit(registered.stderr)
        sample = [p for p in products if variants_with(p)]
        rng.shuffle(sample)
        requests = [r for r in (request_for(p, rng) for p in sample) if r][: args.requests]
        market = shop(binary, workdir, env, requests, [])

        # The demo world, the same kind of requests from its own catalog.
        demo_dir = os.path.join(workdir, "demo")
        os.makedirs(demo_dir)
        generated = run(binary, demo_dir, ["index", "generate-demo"], env)
        if generated.returncode != 0:
            sys.exit(generated.stderr)
        demo_products = []
        for name in sorted(os.listdir(os.path.join(demo_dir, "index", "feeds"))):
            if name.endswith(".jsonl"):
                demo_products += [json.loads(l) for l in open(os.path.join(demo_dir, "index", "feeds", name))]
        rng.shuffle(demo_products)
        demo_requests = [r for r in (request_for(p, rng) for p in demo_products) if r][: args.requests]
        demo = shop(binary, demo_dir, env, demo_requests, ["--demo"])

        def summary(results):
            ok = sum(r["ok"] for r in results)
            seconds = sorted(r["seconds"] for r in results)
            why = {}
            for r in results:
                if not r["ok"]:
                    kind = r["why"].split(":")[0]
                    why[kind] = why.get(kind, 0) + 1
            return {"requests": len(results), "bought_as_asked": ok,
                    "rate": round(ok / max(1, len(results)), 3),
                    "median_seconds": round(seconds[len(seconds) // 2], 2) if seconds else None,
                    "failures": why}

        print(json.dumps({"three_merchants": summary(market), "demo_world": summary(demo),
                          "misses": [r for r in market + demo if not r["ok"]][:20]}, indent=2))
    finally:
        for child in responders:
            child.terminate()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
