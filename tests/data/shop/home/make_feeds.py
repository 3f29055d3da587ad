#!/usr/bin/env python3
"""Split catalog.jsonl into per-merchant feeds, deterministically (stdlib only).

    python3 make_feeds.py            # writes feeds/<merchant>.jsonl and feeds/merchants.json

Every random-looking choice comes from SHA-256 of a fixed string, so re-running
always produces byte-identical feeds.

* Assortment: each merchant carries its core departments (top-level category)
  plus a hashed share of the others; "corner" carries a hashed ~50% of
  everything, and also any product no one else carries.
* Price: per (merchant, product) factor in [0.85, 1.15] applied to every variant's
  base price, rounded to the nearest 10 cents and ending in 9 (e.g. 6.99 -> 7.29).
* Stock: ~10% of (merchant, variant) pairs are out of stock
  ("available": false, "status": "out_of_stock").
"""
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FEEDS = os.path.join(HERE, "feeds")

# flat shipping per order, minor units (USD cents)
MERCHANTS = {
    "larder": {"shipping": 0},       # grocery / drugstore / pet / baby, free delivery
    "homeworks": {"shipping": 599},  # kitchen, home, electronics, office
    "corner": {"shipping": 399},     # general store, a bit of everything
}
CORE = {
    "larder": {"Grocery", "Health", "Personal Care", "Baby", "Kids", "Pet"},
    "homeworks": {"Kitchen", "Home", "Electronics", "Office"},
    "corner": set(),
}
EXTRA_SHARE = {"larder": 0.35, "homeworks": 0.30, "corner": 0.50}
OOS_RATE = 0.10


def u(*parts):
    """Deterministic uniform number in [0, 1) from the given strings."""
    d = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return int(d[:12], 16) / float(16 ** 12)


def carries(merchant, product):
    if product["categories"][0] in CORE[merchant]:
        return True
    return u("carry", merchant, product["id"]) < EXTRA_SHARE[merchant]


def merchant_price(base, merchant, pid):
    factor = 0.85 + 0.30 * u("price", merchant, pid)
    return max(99, int(round(base * factor / 10.0)) * 10 - 1)


def main():
    catalog = [json.loads(l) for l in open(os.path.join(HERE, "catalog.jsonl")) if l.strip()]
    os.makedirs(FEEDS, exist_ok=True)
    feeds = {m: [] for m in MERCHANTS}
    for p in catalog:
        sellers = [m for m in MERCHANTS if carries(m, p)]
        if not sellers:
            sellers = ["corner"]
        for m in sellers:
            q = json.loads(json.dumps(p))
            q["url"] = "https://%s.example/p/%s" % (m, p["id"].lower())
            for v in q["variants"]:
                v["price"]["amount"] = merchant_price(v["price"]["amount"], m, p["id"])
                if u("stock", m, v["id"]) < OOS_RATE:
                    v["availability"] = {"available": False, "status": "out_of_stock"}
                else:
                    v["availability"] = {"available": True, "status": "in_stock"}
            feeds[m].append(q)
    for m, rows in feeds.items():
        with open(os.path.join(FEEDS, m + ".jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        nv = sum(len(r["variants"]) for r in rows)
        oos = sum(1 for r in rows for v in r["variants"] if not v["availability"]["available"])
        print("%-10s %3d products %4d variants %3d out of stock (%.0f%%) shipping %d"
              % (m, len(rows), nv, oos, 100.0 * oos / nv, MERCHANTS[m]["shipping"]))
    with open(os.path.join(FEEDS, "merchants.json"), "w") as f:
        json.dump(MERCHANTS, f, indent=2)
        f.write("\n")
    covered = {p["id"] for rows in feeds.values() for p in rows}
    multi = sum(1 for p in catalog if sum(p["id"] in {r["id"] for r in rows} for rows in feeds.values()) > 1)
    print("catalog %d products, %d carried, %d at 2+ merchants" % (len(catalog), len(covered), multi))


if __name__ == "__main__":
    main()
