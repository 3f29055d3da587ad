#!/usr/bin/env python3
"""Check that every task in tasks.jsonl can be satisfied by the feeds (stdlib only).

    python3 check_tasks.py            # report
    python3 check_tasks.py --write    # also (re)write "best_total" into tasks.jsonl
    python3 check_tasks.py -v         # also list every satisfying (merchant, variant)

An offer is a (merchant, variant) pair.  It satisfies a task's gold when it is in
stock and every stated constraint holds:

  type        any listed word occurs in the product title or in one of its categories
  material    occurs in the product's material field, a "Material" option value,
              the product title or the description
  color       equals the variant's "Color" option value (lowercased)
  size        equals the variant's "Size" option value (lowercased)
  max_price   variant price + the merchant's flat shipping <= max_price (dollars)
  attributes  every listed phrase occurs in the product title or description
  audience    men -> gender male, women -> gender female, kids -> age_group kids,
              baby -> age_group infant, unisex -> gender unisex

Matching is case-insensitive substring matching ("literal").  Every task is also
checked under a second, looser reading ("normalized": hyphens as spaces,
whole-word matching that allows a plural s/es, color contained in the option
value, size ignoring spaces, men/women also accepting unisex adult products) and
any task whose set of satisfying offers differs between the two readings is
flagged, so that a grader using either reading gets the same answer.

"trap" = the cheapest in-stock offer that matches only the task's type (the
naive pick) does not satisfy the full gold.
"""
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FEEDS = os.path.join(HERE, "feeds")
GOLD_KEYS = {"type", "material", "color", "size", "max_price", "attributes", "audience"}
AUDIENCES = {"men", "women", "kids", "baby", "unisex"}


def load_offers():
    merchants = json.load(open(os.path.join(FEEDS, "merchants.json")))
    offers = []
    for m, info in sorted(merchants.items()):
        for line in open(os.path.join(FEEDS, m + ".jsonl")):
            if not line.strip():
                continue
            p = json.loads(line)
            for v in p["variants"]:
                offers.append({
                    "merchant": m, "product": p, "variant": v,
                    "price": v["price"]["amount"], "shipping": info["shipping"],
                    "total": v["price"]["amount"] + info["shipping"],
                    "in_stock": bool(v["availability"]["available"]),
                })
    return offers


def option(v, name):
    for o in v.get("variant_options", []):
        if o["name"].lower() == name.lower():
            return o["value"]
    return None


def norm(s):
    return re.sub(r"\s+", " ", s.lower().replace("-", " ")).strip()


def has(needle, hay, mode):
    if mode == "literal":
        return needle.lower() in hay.lower()
    pat = r"\b" + re.escape(norm(needle)) + r"(?:s|es)?\b"
    return re.search(pat, norm(hay)) is not None


def failures(gold, o, mode="literal"):
    """Names of the gold constraints the offer violates (stock is not checked here)."""
    p, v = o["product"], o["variant"]
    title, desc = p["title"], p.get("description", "")
    bad = []
    if "type" in gold:
        hay = " | ".join([title] + list(p.get("categories", [])))
        if not any(has(t, hay, mode) for t in gold["type"]):
            bad.append("type")
    if gold.get("material"):
        hay = " | ".join([p.get("material") or "", option(v, "Material") or "", title, desc])
        if not has(gold["material"], hay, mode):
            bad.append("material")
    if gold.get("color"):
        c = (option(v, "Color") or "").lower()
        ok = c == gold["color"] if mode == "literal" else has(gold["color"], c, mode)
        if not ok:
            bad.append("color")
    if gold.get("size"):
        s = (option(v, "Size") or "").lower()
        ok = s == gold["size"] if mode == "literal" else s.replace(" ", "") == gold["size"].replace(" ", "")
        if not ok:
            bad.append("size")
    if gold.get("max_price") is not None:
        if o["total"] > round(gold["max_price"] * 100):
            bad.append("max_price")
    for a in gold.get("attributes", []) or []:
        if not has(a, title + " | " + desc, mode):
            bad.append("attr:" + a)
    aud = gold.get("audience")
    if aud:
        g, age = p.get("gender"), p.get("age_group")
        if mode == "literal":
            ok = {"men": g == "male", "women": g == "female", "kids": age == "kids",
                  "baby": age == "infant", "unisex": g == "unisex"}[aud]
        else:
            ok = {"men": g in ("male", "unisex") and age == "adult",
                  "women": g in ("female", "unisex") and age == "adult",
                  "kids": age == "kids", "baby": age == "infant", "unisex": g == "unisex"}[aud]
        if not ok:
            bad.append("audience")
    return bad


def validate(task):
    errs = []
    g = task.get("gold", {})
    if set(g) - GOLD_KEYS:
        errs.append("unknown gold keys %s" % sorted(set(g) - GOLD_KEYS))
    if not g.get("type") or any(t != t.lower() for t in g["type"]):
        errs.append("type must be a non-empty list of lowercase words")
    for k in ("material", "color", "size"):
        if k in g and g[k] != g[k].lower():
            errs.append("%s must be lowercase" % k)
    if "audience" in g and g["audience"] not in AUDIENCES:
        errs.append("bad audience %r" % g["audience"])
    return errs


def main():
    verbose = "-v" in sys.argv
    write = "--write" in sys.argv
    offers = load_offers()
    tpath = os.path.join(HERE, "tasks.jsonl")
    tasks = [json.loads(l) for l in open(tpath) if l.strip()]
    ids = [t["id"] for t in tasks]
    problems = []
    if len(ids) != len(set(ids)):
        problems.append("duplicate task ids")
    counts, traps, disagree = [], 0, []
    print("%-9s %5s %5s %8s  %-34s %s" % ("task", "pairs", "prods", "best", "best offer", "naive cheapest type match"))
    for t in tasks:
        g = t["gold"]
        for e in validate(t):
            problems.append("%s: %s" % (t["id"], e))
        sat = [o for o in offers if o["in_stock"] and not failures(g, o)]
        sat_n = [o for o in offers if o["in_stock"] and not failures(g, o, "normalized")]
        key = lambda o: (o["merchant"], o["variant"]["id"])
        if sorted(map(key, sat)) != sorted(map(key, sat_n)):
            disagree.append("%s: literal %d vs normalized %d offers" % (t["id"], len(sat), len(sat_n)))
        counts.append(len(sat))
        typed = [o for o in offers if o["in_stock"] and not failures({"type": g["type"]}, o)]
        naive = min(typed, key=lambda o: (o["total"], o["variant"]["id"])) if typed else None
        if sat:
            best = min(sat, key=lambda o: (o["total"], o["variant"]["id"]))
            t["best_total"] = round(best["total"] / 100.0, 2)
            best_s = "%s %s" % (best["merchant"], best["variant"]["id"])
        else:
            t.pop("best_total", None)
            best_s = "-"
            problems.append("%s: NO satisfying in-stock offer" % t["id"])
        naive_s = "-"
        if naive:
            nb = failures(g, naive)
            traps += bool(nb)
            naive_s = "%s %s $%.2f %s" % (naive["merchant"], naive["variant"]["id"], naive["total"] / 100.0,
                                          ("TRAP fails " + ",".join(nb)) if nb else "ok")
        print("%-9s %5d %5d %8s  %-34s %s" % (
            t["id"], len(sat), len({o["product"]["id"] for o in sat}),
            ("$%.2f" % t["best_total"]) if sat else "-", best_s, naive_s))
        if verbose:
            for o in sorted(sat, key=lambda o: o["total"]):
                print("            %-9s %-22s $%.2f" % (o["merchant"], o["variant"]["id"], o["total"] / 100.0))
    print()
    print("SUMMARY: %d tasks, %d satisfiable, %d unsatisfiable" % (
        len(tasks), sum(1 for c in counts if c), sum(1 for c in counts if not c)))
    if counts:
        print("satisfying (merchant, variant) pairs per task: min %d, median %g, max %d, total %d" % (
            min(counts), statistics.median(counts), max(counts), sum(counts)))
    print("tasks where the cheapest in-stock type match violates the gold (traps): %d/%d" % (traps, len(tasks)))
    print("literal vs normalized matching disagreements: %d" % len(disagree))
    for d in disagree:
        print("  " + d)
    for p in problems:
        print("PROBLEM: " + p)
    if write:
        with open(tpath, "w") as f:
            for t in tasks:
                f.write(json.dumps(t, ensure_ascii=False) + "\n")
        print("best_total written to tasks.jsonl")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
