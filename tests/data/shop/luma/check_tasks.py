#!/usr/bin/env python3
"""Check that every shopping task is satisfiable against the merchant feeds.

stdlib only.

    python3 check_tasks.py                       # report, exit 1 if a task has no satisfying offer
    python3 check_tasks.py --write-best-total    # also (re)write "best_total" into tasks.jsonl
    python3 check_tasks.py --json report.json    # machine-readable per-task report

An offer is one (merchant, variant). It satisfies a task's gold when ALL hold:
  * the variant is in stock (availability.available is true);
  * type:       any word of gold.type matches the product title or the category
                path (categories joined);
  * audience:   men -> gender "male", women -> "female", unisex -> "unisex";
                a "unisex" product satisfies any audience;
  * material:   matches the variant's Material option or the product description;
  * color:      the variant's Color option equals gold.color, or is a catalog
                shade of it (SHADES below, e.g. Lavender -> purple);
  * size:       the variant's Size option equals gold.size (case-insensitive);
  * max_price:  (variant price + merchant shipping) / 100 <= gold.max_price;
  * attributes: every word/phrase matches the product title or description.

"matches" = case-insensitive, after HTML entities are decoded and every run of
non-alphanumeric characters is turned into one space ("Full-Zip" == "full zip",
"CoolTech&trade;" == "cooltech"), the phrase must start at a word boundary
(prefix of a word is fine so plurals match: "hoodie" ~ "Hoodies").
The check is also run in a stricter mode (whole words, optional plural s/es)
and a looser one (plain substring, "shirt" ~ "Sweatshirts"); tasks whose
satisfying offers differ between the modes are reported.

gold.cheapest (true) marks a "the cheapest ..." request: the purchase should
cost best_total (the lowest price+shipping among satisfying offers).
"""
import argparse
import html
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHADES = {"lavender": "purple"}
AUDIENCE = {"men": "male", "women": "female", "unisex": "unisex"}


def norm(text):
    text = html.unescape(text or "").lower()
    return " " + re.sub(r"[^a-z0-9]+", " ", text).strip() + " "


def has(phrase, text_n, strict=False):
    """strict=False: phrase starts at a word boundary (default rule);
    strict=True: whole words, optional plural s/es;
    strict="substring": plain substring, no word boundaries at all."""
    p = norm(phrase).strip()
    if not p:
        return True
    if strict == "substring":
        return p in text_n
    if strict:
        return re.search(r" " + re.escape(p) + r"(s|es)? ", text_n) is not None
    return (" " + p) in text_n


def option(variant, name):
    for o in variant.get("variant_options") or []:
        if o.get("name", "").lower() == name.lower():
            return o.get("value", "")
    return None


def load_offers(feeds_dir):
    with open(os.path.join(feeds_dir, "merchants.json"), encoding="utf-8") as f:
        merchants = json.load(f)
    offers = []
    for m in sorted(merchants):
        ship = merchants[m]["shipping"]
        with open(os.path.join(feeds_dir, f"{m}.jsonl"), encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                p = json.loads(line)
                title_cat = norm(p["title"] + " | " + " | ".join(p.get("categories") or []))
                title_desc = norm(p["title"] + " | " + p.get("description", ""))
                for v in p["variants"]:
                    offers.append({
                        "merchant": m,
                        "product_id": p["id"],
                        "product_title": p["title"],
                        "gender": p.get("gender"),
                        "variant_id": v["id"],
                        "price": v["price"]["amount"],
                        "shipping": ship,
                        "total": v["price"]["amount"] + ship,
                        "available": bool(v["availability"]["available"]),
                        "title_cat": title_cat,
                        "title_desc": title_desc,
                        "material": norm(option(v, "Material") or ""),
                        "color": (option(v, "Color") or "").strip().lower(),
                        "size": (option(v, "Size") or "").strip().lower(),
                    })
    return merchants, offers


def type_ok(gold, o, strict=False):
    types = gold.get("type") or []
    return not types or any(has(t, o["title_cat"], strict) for t in types)


def satisfies(gold, o, strict=False, check_price=True):
    if not o["available"]:
        return False
    if not type_ok(gold, o, strict):
        return False
    aud = gold.get("audience")
    if aud and o["gender"] != "unisex" and AUDIENCE.get(aud) != o["gender"]:
        return False
    mat = gold.get("material")
    if mat and not (has(mat, o["material"], strict) or has(mat, o["title_desc"], strict)):
        return False
    col = gold.get("color")
    if col:
        # One colour, or a list of colours any of which will do.
        wanted = [x.lower() for x in ([col] if isinstance(col, str) else col)]
        c = o["color"]
        if not c or (c not in wanted and SHADES.get(c) not in wanted):
            return False
    size = gold.get("size")
    if size and o["size"] != str(size).strip().lower():
        return False
    for a in gold.get("attributes") or []:
        if not has(a, o["title_desc"], strict):
            return False
    if check_price and gold.get("max_price") is not None:
        if o["total"] > round(float(gold["max_price"]) * 100):
            return False
    return True


def analyse(task, offers):
    gold = task["gold"]
    sat = [o for o in offers if satisfies(gold, o)]
    sat_strict = [o for o in offers if satisfies(gold, o, strict=True)]
    sat_sub = [o for o in offers if satisfies(gold, o, strict="substring")]
    no_price = [o for o in offers if satisfies(gold, o, check_price=False)]
    type_offers = [o for o in offers if o["available"] and type_ok(gold, o)]
    r = {
        "id": task["id"],
        "pairs": len(sat),
        "pairs_strict": len(sat_strict),
        "pairs_substring": len(sat_sub),
        "variants": len({o["variant_id"] for o in sat}),
        "products": len({o["product_id"] for o in sat}),
        "pairs_ignoring_price": len(no_price),
    }
    if not sat:
        return r
    best = min(sat, key=lambda o: (o["total"], o["merchant"]))
    same_variant = sorted(
        (o for o in offers if o["variant_id"] == best["variant_id"] and o["available"]),
        key=lambda o: o["total"])
    type_best = min(type_offers, key=lambda o: o["total"]) if type_offers else best
    r.update({
        "best_total": round(best["total"] / 100.0, 2),
        "best": f'{best["merchant"]}:{best["variant_id"]}',
        "best_title": best["product_title"],
        "best_variant_sellers": [f'{o["merchant"]}={o["total"]/100:.2f}' for o in same_variant],
        "type_cheapest_total": round(type_best["total"] / 100.0, 2),
        "type_cheapest": f'{type_best["merchant"]}:{type_best["variant_id"]}',
        "beats_type_cheapest": best["total"] > type_best["total"],
        "cheapest_sat_variant_multi": len(same_variant) > 1,
        "strict_best_total": round(min(o["total"] for o in sat_strict) / 100.0, 2) if sat_strict else None,
        "substring_best_total": round(min(o["total"] for o in sat_sub) / 100.0, 2) if sat_sub else None,
    })
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=os.path.join(HERE, "tasks.jsonl"))
    ap.add_argument("--feeds", default=os.path.join(HERE, "feeds"))
    ap.add_argument("--write-best-total", action="store_true")
    ap.add_argument("--json", help="write the per-task report here")
    ap.add_argument("-q", "--quiet", action="store_true", help="summary only")
    args = ap.parse_args()

    _, offers = load_offers(args.feeds)
    with open(args.tasks, encoding="utf-8") as f:
        tasks = [json.loads(line) for line in f if line.strip()]

    reports, bad = [], []
    ids = set()
    for t in tasks:
        if t["id"] in ids:
            bad.append(t["id"] + " (duplicate id)")
        ids.add(t["id"])
        r = analyse(t, offers)
        reports.append(r)
        if r["pairs"] == 0:
            bad.append(t["id"])
        else:
            t["best_total"] = r["best_total"]
        if not args.quiet:
            if r["pairs"] == 0:
                print(f'{t["id"]}  UNSATISFIABLE  (ignoring price: {r["pairs_ignoring_price"]} offers)  {t["request"]}')
            else:
                flag = "" if r["beats_type_cheapest"] else "  [best == type-cheapest]"
                strict = "" if r["pairs_strict"] == r["pairs"] else f'  [strict mode: {r["pairs_strict"]} pairs, best {r["strict_best_total"]}]'
                if r["pairs_substring"] != r["pairs"]:
                    strict += f'  [substring mode: {r["pairs_substring"]} pairs, best {r["substring_best_total"]}]'
                print(f'{t["id"]}  pairs={r["pairs"]:3d} variants={r["variants"]:3d} products={r["products"]:2d}  '
                      f'best={r["best_total"]:7.2f} {r["best"]} ({r["best_title"]})  '
                      f'sellers[{" ".join(r["best_variant_sellers"])}]  '
                      f'type-cheapest={r["type_cheapest_total"]:.2f}{flag}{strict}')

    ok = [r for r in reports if r["pairs"] > 0]
    n = len(reports)
    print()
    print(f"tasks: {n}   satisfiable: {len(ok)}   unsatisfiable: {n - len(ok)}")
    if ok:
        pairs = sorted(r["pairs"] for r in ok)
        print(f"satisfying (merchant, variant) pairs per task: min {pairs[0]}, median {pairs[len(pairs)//2]}, max {pairs[-1]}")
        print(f"tasks with exactly 1 satisfying pair: {sum(1 for r in ok if r['pairs'] == 1)};  <= 5 pairs: {sum(1 for r in ok if r['pairs'] <= 5)}")
        print(f"best satisfying offer dearer than cheapest offer of the type: {sum(1 for r in ok if r['beats_type_cheapest'])}/{len(ok)}")
        print(f"best satisfying variant sold (in stock) by 2+ merchants: {sum(1 for r in ok if r['cheapest_sat_variant_multi'])}/{len(ok)}")
        multi = [r for r in ok if r["variants"] < r["pairs"]]
        print(f"tasks where some satisfying variant is offered by 2+ merchants: {len(multi)}/{len(ok)}")
        merch = {}
        for r in ok:
            m = r["best"].split(":")[0]
            merch[m] = merch.get(m, 0) + 1
        print("merchant holding the best offer: " + ", ".join(f"{k} {v}" for k, v in sorted(merch.items())))
        diff = [r["id"] for r in ok if r["pairs_strict"] != r["pairs"]]
        print(f"tasks whose pair count changes under strict whole-word matching: {len(diff)} {diff if diff else ''}")
        diffb = [r["id"] for r in ok if r["strict_best_total"] != r["best_total"]]
        print(f"tasks whose best_total changes under strict matching: {len(diffb)} {diffb if diffb else ''}")
        diff = [r["id"] for r in ok if r["pairs_substring"] != r["pairs"]]
        print(f"tasks whose pair count changes under plain-substring matching: {len(diff)} {diff if diff else ''}")
        diffb = [r["id"] for r in ok if r["substring_best_total"] != r["best_total"]]
        print(f"tasks whose best_total changes under plain-substring matching: {len(diffb)} {diffb if diffb else ''}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(reports, f, indent=1)
    if args.write_best_total:
        with open(args.tasks, "w", encoding="utf-8") as f:
            for t in tasks:
                f.write(json.dumps(t, ensure_ascii=False) + "\n")
        print(f"best_total written to {args.tasks}")
    if bad:
        print("FAILED: " + ", ".join(bad))
        sys.exit(1)


if __name__ == "__main__":
    main()
