#!/usr/bin/env python3
"""Write tasks.jsonl from the hand-written task list below, then fill in
"best_total" with check_tasks.py's logic. stdlib only.

    python3 make_tasks.py [--feeds feeds] [--out tasks.jsonl]

Each task: {"id", "request", "gold": {...}, "best_total"}. gold holds only
the constraints the shopper stated (see README.md for the field semantics).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_tasks  # noqa: E402

TEE = ["tee", "t-shirt", "shirt"]
HOODIE = ["hoodie", "sweatshirt"]
PANTS = ["pant", "pants", "trousers"]
SHORTS = ["shorts", "short"]
TANK = ["tank", "tank top"]


def g(type_, audience=None, material=None, color=None, size=None, max_price=None, attributes=None, cheapest=False):
    gold = {"type": type_}
    if audience:
        gold["audience"] = audience
    if material:
        gold["material"] = material
    if color:
        # check_tasks.py counts the catalog's Lavender as purple (SHADES);
        # the gold says so too, so that the scorer agrees with best_total.
        gold["color"] = [color, "lavender"] if color == "purple" else color
    if size:
        gold["size"] = size
    if max_price is not None:
        gold["max_price"] = float(max_price)
    gold["attributes"] = attributes or []
    if cheapest:
        gold["cheapest"] = True
    return gold


TASKS = [
    # ---- men's hoodies & sweatshirts
    ("buy me a gray hoodie for men, size M, under $55",
     g(HOODIE, "men", color="gray", size="M", max_price=55)),
    ("i need a mens full zip sweatshirt in green, size large, no more than 62 dollars",
     g(["sweatshirt", "hoodie"], "men", color="green", size="L", max_price=62, attributes=["full zip"])),
    ("get my husband a wool hoodie in orange, XL please, budget is $55",
     g(["hoodie"], "men", material="wool", color="orange", size="XL", max_price=55)),
    ("looking to buy a lightweight men's hoodie in purple, size S, under $80",
     g(["hoodie"], "men", color="purple", size="S", max_price=80, attributes=["lightweight"])),
    ("order me an active hoodie for men in light purple, XL, can spend up to $85",
     g(["hoodie"], "men", color="purple", size="XL", max_price=85, attributes=["active"])),
    ("my boyfriend wants a lightweight hoodie, purple, medium. buy one under 80 bucks",
     g(["hoodie"], "men", color="purple", size="M", max_price=80, attributes=["lightweight"])),
    ("I want a men's white sweatshirt made of organic cotton, M, under $60",
     g(["sweatshirt"], "men", material="organic cotton", color="white", size="M", max_price=60)),
    # ---- men's jackets
    ("order me a red jacket for men, size L, under $55",
     g(["jacket"], "men", color="red", size="L", max_price=55)),
    ("need a nylon wind jacket for my dad, black, XL, under $60",
     g(["jacket", "windbreaker"], "men", material="nylon", color="black", size="XL", max_price=60, attributes=["wind"])),
    ("grab me a mens fleece jacket, green, medium, max $60",
     g(["jacket"], "men", material="fleece", color="green", size="M", max_price=60)),
    ("whats the cheapest men's purple jacket in size S? buy it",
     g(["jacket"], "men", color="purple", size="S", cheapest=True)),
    # ---- men's tees
    ("buy me a black t-shirt, mens L, under $30",
     g(TEE, "men", color="black", size="L", max_price=30)),
    ("can you order a men's v-neck tee in gray, size M, under $32 please",
     g(TEE, "men", color="gray", size="M", max_price=32, attributes=["v neck"])),
    ("i want a long sleeve shirt for him, white, XL, under $40",
     g(["tee", "shirt", "t-shirt"], "men", color="white", size="XL", max_price=40, attributes=["long sleeve"])),
    ("buy an organic cotton t-shirt for my boyfriend, green, size S, less than $35",
     g(TEE, "men", material="organic cotton", color="green", size="S", max_price=35)),
    ("get me a yellow running tee, mens XL, under 30",
     g(TEE, "men", color="yellow", size="XL", max_price=30, attributes=["running"])),
    ("get me the cheapest blue t-shirt for men in medium",
     g(TEE, "men", color="blue", size="M", cheapest=True)),
    # ---- men's tanks
    ("i need a mens blue tank top in polyester, size M, under $25",
     g(TANK, "men", material="polyester", color="blue", size="M", max_price=25)),
    ("i need a gray cotton tank for him, XL, under $35",
     g(["tank"], "men", material="cotton", color="gray", size="XL", max_price=35)),
    ("buy a polyester gym tank for my son, green, size M, under 35 dollars",
     g(["tank"], "men", material="polyester", color="green", size="M", max_price=35, attributes=["gym"])),
    ("pick up a yellow tank for men, small, under $25",
     g(TANK, "men", color="yellow", size="S", max_price=25)),
    ("order a red tank top for my husband, large, no more than $35",
     g(TANK, "men", color="red", size="L", max_price=35)),
    # ---- men's pants
    ("buy me men's track pants in black, 34 waist, under $75",
     g(PANTS, "men", color="black", size="34", max_price=75, attributes=["track"])),
    ("need some black sweatpants for men, size 32, less than $40",
     g(["pant", "sweatpants", "trousers"], "men", color="black", size="32", max_price=40)),
    ("I'd like to buy men's blue yoga pants, polyester, 33, under $45",
     g(["pant", "yoga pants"], "men", material="polyester", color="blue", size="33", max_price=45, attributes=["yoga"])),
    ("order organic cotton trousers for my dad, green, size 36, max $60",
     g(PANTS, "men", material="organic cotton", color="green", size="36", max_price=60)),
    ("mens brown pants size 32, under $80",
     g(PANTS, "men", color="brown", size="32", max_price=80)),
    # ---- men's shorts
    ("get me men's black running shorts, size 32, under $38",
     g(SHORTS, "men", color="black", size="32", max_price=38, attributes=["running"])),
    ("buy gym shorts for him, red, 34 waist, under $25",
     g(SHORTS, "men", color="red", size="34", max_price=25, attributes=["gym"])),
    ("i want men's purple shorts in size 33 for under $35",
     g(SHORTS, "men", color="purple", size="33", max_price=35)),
    ("lycra shorts for men, green, size 32, under $40",
     g(SHORTS, "men", material="lycra", color="green", size="32", max_price=40)),
    # ---- women's hoodies & sweatshirts
    ("buy my wife a purple hoodie, size S, under $50",
     g(HOODIE, "women", color="purple", size="S", max_price=50)),
    ("i want a women's full zip hoodie in purple, medium, cotton, under $60",
     g(["hoodie", "sweatshirt"], "women", material="cotton", color="purple", size="M", max_price=60, attributes=["full zip"])),
    ("please buy a ladies white sweatshirt, L, polyester, under $50",
     g(["sweatshirt", "hoodie"], "women", material="polyester", color="white", size="L", max_price=50)),
    ("need a women's gray fleece hoodie XS under $60",
     g(["hoodie", "fleece"], "women", material="fleece", color="gray", size="XS", max_price=60)),
    ("get her a blue v-neck hoodie, women's M, under $50",
     g(["hoodie"], "women", color="blue", size="M", max_price=50, attributes=["v neck"])),
    # ---- women's jackets
    ("buy me a women's running jacket, white, size M, under $85",
     g(["jacket"], "women", color="white", size="M", max_price=85, attributes=["running"])),
    ("order a ladies yoga jacket, gray, S, under $40",
     g(["jacket"], "women", color="gray", size="S", max_price=40, attributes=["yoga"])),
    ("buy me a women's brown wool full zip jacket, size L, under 65",
     g(["jacket"], "women", material="wool", color="brown", size="L", max_price=65, attributes=["full zip"])),
    ("what's the cheapest women's black jacket in XS? order it",
     g(["jacket"], "women", color="black", size="XS", cheapest=True)),
    ("get a women's nylon jacket, orange, XL, under $75",
     g(["jacket"], "women", material="nylon", color="orange", size="XL", max_price=75)),
    ("i want to buy a 1/4 zip jacket for my mom, purple, size L, under $60",
     g(["jacket"], "women", color="purple", size="L", max_price=60, attributes=["1/4 zip"])),
    # ---- women's tees & tops
    ("buy a women's red t-shirt size M under $26",
     g(TEE, "women", color="red", size="M", max_price=26)),
    ("ladies hemp tee in purple, M, under $30",
     g(TEE, "women", material="hemp", color="purple", size="M", max_price=30)),
    ("women's blue v-neck tee, XL, under $30",
     g(TEE, "women", color="blue", size="XL", max_price=30, attributes=["v neck"])),
    ("get an organic cotton t-shirt for my girlfriend, white, L, under $30",
     g(TEE, "women", material="organic cotton", color="white", size="L", max_price=30)),
    ("order the cheapest women's black tee in small please",
     g(TEE, "women", color="black", size="S", cheapest=True)),
    ("i need a women's short sleeve top in white, XS, under $30",
     g(["tee", "t-shirt", "top"], "women", color="white", size="XS", max_price=30, attributes=["short sleeve"])),
    # ---- women's bras & tanks
    ("buy me a women's sports bra, blue, size M, under $45",
     g(["bra", "sports bra"], "women", color="blue", size="M", max_price=45, attributes=["sports bra"])),
    ("buy me a women's yellow tank top, L, under $30",
     g(TANK, "women", color="yellow", size="L", max_price=30)),
    ("ladies racerback tank, black, XS, under $40",
     g(["tank"], "women", color="black", size="XS", max_price=40, attributes=["racer"])),
    ("I want a women's mesh tank in red, M, under $40",
     g(["tank"], "women", material="mesh", color="red", size="M", max_price=40)),
    ("get a purple yoga top for my wife, size M, under $45",
     g(["yoga top", "tank"], "women", color="purple", size="M", max_price=45, attributes=["yoga"])),
    ("order a white tank top for her, size M, under $30",
     g(TANK, "women", color="white", size="M", max_price=30)),
    # ---- women's pants, leggings, capris
    ("i need women's red leggings, size 29, under $50",
     g(["leggings", "tights"], "women", color="red", size="29", max_price=50)),
    ("buy women's cotton capris, blue, 29, under $55",
     g(["capri", "capris"], "women", material="cotton", color="blue", size="29", max_price=55)),
    ("get yoga pants for my wife, gray, size 28, under $50",
     g(["pant", "yoga pants", "trousers"], "women", color="gray", size="28", max_price=50, attributes=["yoga"])),
    ("women's white parachute pants, 29, under $50",
     g(["pant", "parachute pants"], "women", color="white", size="29", max_price=50, attributes=["parachute"])),
    ("buy the cheapest green capris for women in size 28",
     g(["capri", "capris"], "women", color="green", size="28", cheapest=True)),
    ("order microfiber leggings for women, orange, 29, under $70",
     g(["leggings", "tights"], "women", material="microfiber", color="orange", size="29", max_price=70)),
    # ---- women's shorts
    ("i want women's orange running shorts, 29, under $50",
     g(SHORTS, "women", color="orange", size="29", max_price=50, attributes=["running"])),
    ("need ladies compression shorts, blue, 28, under $30",
     g(SHORTS, "women", color="blue", size="28", max_price=30, attributes=["compression"])),
    ("get me women's gray bike shorts, size 30, under $60",
     g(SHORTS, "women", color="gray", size="30", max_price=60, attributes=["bike"])),
    ("buy cotton drawstring shorts for my wife, yellow, size 31, under $36",
     g(SHORTS, "women", material="cotton", color="yellow", size="31", max_price=36, attributes=["drawstring"])),
    ("women's purple shorts, 32, under $42",
     g(SHORTS, "women", color="purple", size="32", max_price=42)),
    # ---- gear
    ("buy me a gym bag, under $35",
     g(["bag", "duffle"], max_price=35, attributes=["gym"])),
    ("i need a yoga bag, no more than 35 dollars",
     g(["yoga bag", "bag"], max_price=35, attributes=["yoga"])),
    ("get me a water bottle under $10",
     g(["water bottle", "bottle"], max_price=10)),
    ("i want a digital watch with a rubber strap, under $55",
     g(["watch"], material="rubber", max_price=55, attributes=["digital"])),
    ("buy a stainless steel watch for my wife under $50",
     g(["watch"], "women", material="stainless steel", max_price=50)),
    ("i want a watch with a leather band, under $60",
     g(["watch"], material="leather", max_price=60)),
    ("order a jump rope, under $20",
     g(["jump rope", "rope"], max_price=20)),
    ("order a foam roller under 25 dollars",
     g(["foam roller", "roller"], max_price=25)),
    ("8 foot yoga strap, under $20",
     g(["yoga strap", "strap"], max_price=20, attributes=["8 foot"])),
    ("just buy the cheapest resistance band you can find",
     g(["band", "resistance band"], cheapest=True)),
    ("get me a 65 cm stability ball under $35",
     g(["ball", "stability ball", "exercise ball"], max_price=35, attributes=["65 cm"])),
    ("i need a backpack with a laptop sleeve, under $45",
     g(["backpack"], max_price=45, attributes=["laptop"])),
    ("leather messenger bag under $50",
     g(["messenger"], material="leather", max_price=50)),
    ("buy a watch with a heart rate monitor, under $60",
     g(["watch"], max_price=60, attributes=["heart rate"])),
    ("need a duffel bag for the gym, under $45",
     g(["duffle", "duffel"], max_price=45, attributes=["gym"])),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", default=os.path.join(HERE, "feeds"))
    ap.add_argument("--out", default=os.path.join(HERE, "tasks.jsonl"))
    args = ap.parse_args()
    _, offers = check_tasks.load_offers(args.feeds)
    with open(args.out, "w", encoding="utf-8") as f:
        for i, (request, gold) in enumerate(TASKS, 1):
            task = {"id": f"luma-{i:03d}", "request": request, "gold": gold}
            r = check_tasks.analyse(task, offers)
            task["best_total"] = r.get("best_total")
            f.write(json.dumps(task, ensure_ascii=False) + "\n")
    print(f"wrote {len(TASKS)} tasks to {args.out}")


if __name__ == "__main__":
    main()
