#!/usr/bin/env python3
"""Split the Magento Luma catalog (feed format) into three merchant feeds.

Deterministic, stdlib only.

    python3 make_feeds.py --luma /tmp/luma.jsonl --out feeds/

Per merchant:
  * assortment: north sells every product, harbor ~2 in 3, summit ~1 in 2
    (random sample with a fixed seed, kept in catalog order);
  * prices: every variant price of a product is multiplied by one factor drawn
    uniformly from [0.85, 1.15] for that (merchant, product), rounded to a
    whole cent (minor units stay integers);
  * stock: ~10% of the merchant's variants (exactly round(10%) of them, picked
    at random) are set to {"available": false, "status": "out_of_stock"};
  * each product line gains "gender" (male / female / unisex, from the first
    category: Men / Women / Gear) and "age_group": "adult".
Everything else is copied unchanged. merchants.json holds shipping costs.
"""
import argparse
import copy
import json
import os
import random

SEED = 20240611
MERCHANTS = {
    # name: (share of products carried, shipping in minor units)
    "north": (1.0, 799),
    "harbor": (2.0 / 3.0, 0),
    "summit": (1.0 / 2.0, 499),
}
FACTOR_LO, FACTOR_HI = 0.85, 1.15
OOS_SHARE = 0.10
GENDER = {"men": "male", "women": "female", "gear": "unisex"}


def gender_of(product):
    cats = product.get("categories") or []
    top = cats[0].strip().lower() if cats else ""
    return GENDER.get(top, "unisex")


def with_extra_fields(product):
    """Copy the product, inserting gender/age_group after 'categories'."""
    out = {}
    for k, v in product.items():
        out[k] = copy.deepcopy(v)
        if k == "categories":
            out["gender"] = gender_of(product)
            out["age_group"] = "adult"
    if "gender" not in out:
        out["gender"] = gender_of(product)
        out["age_group"] = "adult"
    return out


def build_merchant(name, share, products):
    rng = random.Random(f"{SEED}:{name}")  # str seeds are hashed deterministically
    n = len(products)
    k = n if share >= 1.0 else round(n * share)
    chosen = sorted(rng.sample(range(n), k))
    lines = []
    for i in chosen:
        p = with_extra_fields(products[i])
        factor = rng.uniform(FACTOR_LO, FACTOR_HI)
        for v in p["variants"]:
            v["price"]["amount"] = int(round(v["price"]["amount"] * factor))
            v["availability"] = {"available": True, "status": "in_stock"}
        lines.append(p)
    # stock-outs: exactly round(10%) of this merchant's variants
    slots = [(pi, vi) for pi, p in enumerate(lines) for vi in range(len(p["variants"]))]
    for pi, vi in rng.sample(slots, round(len(slots) * OOS_SHARE)):
        lines[pi]["variants"][vi]["availability"] = {"available": False, "status": "out_of_stock"}
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--luma", default="/tmp/luma.jsonl", help="catalog in feed format (one product per line)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "feeds"))
    args = ap.parse_args()

    with open(args.luma, encoding="utf-8") as f:
        products = [json.loads(line) for line in f if line.strip()]
    os.makedirs(args.out, exist_ok=True)
    summary = {}
    for name, (share, shipping) in MERCHANTS.items():
        lines = build_merchant(name, share, products)
        path = os.path.join(args.out, f"{name}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for p in lines:
                f.write(json.dumps(p, ensure_ascii=False, separators=(",", ":")) + "\n")
        nv = sum(len(p["variants"]) for p in lines)
        oos = sum(1 for p in lines for v in p["variants"] if not v["availability"]["available"])
        summary[name] = (len(lines), nv, oos)
    with open(os.path.join(args.out, "merchants.json"), "w", encoding="utf-8") as f:
        json.dump({name: {"shipping": ship} for name, (_, ship) in MERCHANTS.items()}, f, indent=2)
        f.write("\n")
    for name, (np_, nv, oos) in summary.items():
        print(f"{name}: {np_} products, {nv} variants, {oos} out of stock, shipping {MERCHANTS[name][1]}")


if __name__ == "__main__":
    main()
