#!/usr/bin/env python3
"""Authoring helper for catalog.jsonl (the hand-written base catalog).

The product list below is written by hand; this script only expands the
variant axes (Cartesian product, price deltas) into the feed JSON shape and
assigns sequential ids H001, H002, ...  Base prices are in US cents.

    python3 build_catalog.py      # rewrites catalog.jsonl next to this file

catalog.jsonl is the source of truth for make_feeds.py; re-running this script
reproduces it byte for byte.
"""
import itertools
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
PRODUCTS = []


def P(title, brand, cats, material, desc, axes=(), base=0, gender="unisex", age="adult"):
    PRODUCTS.append(dict(title=title, brand=brand, cats=cats, material=material, desc=desc,
                         axes=list(axes), base=base, gender=gender, age=age))


def ax(name, *vals):
    """ax("Size", "12 oz", ("32 oz", 500)) -> axis with optional price deltas (cents)."""
    out = []
    for v in vals:
        out.append(v if isinstance(v, tuple) else (v, 0))
    return (name, out)


# --------------------------------------------------------------- Health / oral care
P("Stainless Steel Tongue Cleaner", "Brightmouth", ["Health", "Oral Care", "Tongue Cleaners"], "stainless steel",
  "Medical grade stainless steel tongue cleaner with a comfortable U-shaped handle. Removes odor-causing buildup "
  "in seconds for fresher breath. Rust resistant, dishwasher safe and built to last for years. Includes a travel pouch.",
  [ax("Pack", "Pack of 1", ("Pack of 2", 400))], 699)
P("Plastic Tongue Scraper, 4 Pack", "EveryDay Basics", ["Health", "Oral Care", "Tongue Cleaners"], "plastic",
  "Flexible plastic tongue scraper with a gentle ridged edge. BPA free, lightweight and easy to toss in a travel kit. "
  "Four scrapers per pack.",
  [ax("Color", "Blue", "Green")], 449)
P("Bamboo Toothbrush, 4 Pack", "Greenvale", ["Health", "Oral Care", "Toothbrushes"], "bamboo",
  "Biodegradable bamboo handles with soft BPA free nylon bristles. Naturally water resistant and shipped in "
  "compostable paper packaging. Four toothbrushes per pack.",
  [ax("Color", "Black", "White")], 799)
P("Kids Extra Soft Toothbrush, 4 Pack", "Little Sprout", ["Health", "Oral Care", "Toothbrushes"], "plastic",
  "Small brush head and extra soft bristles sized for kids ages 3 and up. Chunky easy-grip handle, BPA free.",
  [ax("Color", "Blue", "Pink")], 549, age="kids")

# --------------------------------------------------------------- Personal care
P("Men's 5-Blade Razor with 4 Cartridges", "Pure Harbor", ["Personal Care", "Shaving", "Razors"], "",
  "Five precision blades with a pivoting head and lubricating strip for a close, comfortable shave. "
  "Handle plus 4 refill cartridges.",
  [ax("Color", "Black", "Blue")], 1299, gender="male")
P("Men's Disposable Razors, 12 Pack", "EveryDay Basics", ["Personal Care", "Shaving", "Razors"], "",
  "Twin blade disposable razors with a lubricating strip. Great for travel and the gym bag.",
  [ax("Color", "Blue", "Pink")], 699, gender="male")
P("Women's 5-Blade Razor with 4 Cartridges", "Pure Harbor", ["Personal Care", "Shaving", "Razors"], "",
  "Five blades with a moisture strip of shea butter and aloe, designed to glide over curves. "
  "Handle plus 4 refill cartridges.",
  [ax("Color", "Pink", "Purple")], 1399, gender="female")
P("Fragrance Free Body Wash for Sensitive Skin", "Pure Harbor", ["Personal Care", "Bath & Body", "Body Wash"], "",
  "Gentle, soap free body wash for sensitive skin. Fragrance free, dye free and dermatologist tested. "
  "Vegan formula with oat extract.",
  [ax("Size", "16 oz", ("32 oz", 500))], 899)
P("Men's Body Wash, Cedar & Sage", "Ridgeline", ["Personal Care", "Bath & Body", "Body Wash"], "",
  "Invigorating cedar and sage scent that lasts all day. Cleans without drying and rinses clean.",
  [ax("Size", "18 oz")], 799, gender="male")
P("Tear Free Baby Shampoo & Wash", "Little Sprout", ["Baby", "Bath", "Baby Shampoo"], "",
  "Tear free 2-in-1 shampoo and body wash for babies. Hypoallergenic, fragrance free and made with organic aloe "
  "and calendula.",
  [ax("Size", "10 oz", ("20 oz", 450))], 849, age="infant")
P("Mineral Sunscreen Lotion SPF 50", "Pure Harbor", ["Personal Care", "Sun Care", "Sunscreen"], "",
  "Zinc oxide mineral sunscreen with broad spectrum SPF 50 protection. Reef safe, fragrance free and water "
  "resistant for 80 minutes.",
  [ax("Size", "3 oz")], 1199)
P("Kids Mineral Sunscreen Lotion SPF 50", "Little Sprout", ["Personal Care", "Sun Care", "Sunscreen"], "",
  "Gentle zinc oxide sunscreen made for kids. Tear free, reef safe and water resistant for 80 minutes. "
  "Pediatrician tested.",
  [ax("Size", "3 oz", ("6 oz", 600))], 1099, age="kids")
P("Kids Sunscreen Spray SPF 50", "EveryDay Basics", ["Personal Care", "Sun Care", "Sunscreen"], "",
  "Continuous spray sunscreen for kids with broad spectrum SPF 50. Water resistant for 80 minutes.",
  [ax("Size", "6 oz")], 799, age="kids")

# --------------------------------------------------------------- Kitchen
P("Bamboo Cutting Board", "Oak & Ember", ["Kitchen", "Kitchen Tools", "Cutting Boards"], "bamboo",
  "Thick, sturdy bamboo cutting board with a deep juice groove and built-in handles. Gentle on knife edges. "
  "Hand wash and oil occasionally.",
  [ax("Size", "Medium", ("Large", 800)), ax("Material", "Bamboo")], 1999)
P("Plastic Cutting Board Set of 3", "EveryDay Basics", ["Kitchen", "Kitchen Tools", "Cutting Boards"], "plastic",
  "Three color-coded plastic cutting boards for meat, veggies and bread. BPA free and dishwasher safe with "
  "non-slip edges.",
  [ax("Color", "Gray", "Green"), ax("Material", "Plastic")], 1299)
P("Stainless Steel Mixing Bowls, Set of 5", "Kindred Kitchen", ["Kitchen", "Bakeware", "Mixing Bowls"],
  "stainless steel",
  "Five nesting stainless steel mixing bowls from 1.5 to 5 quarts. Non-slip bottoms, dishwasher safe and "
  "freezer safe.",
  [ax("Material", "Stainless Steel")], 2999)
P("Plastic Mixing Bowls, Set of 4", "EveryDay Basics", ["Kitchen", "Bakeware", "Mixing Bowls"], "plastic",
  "Lightweight nesting plastic mixing bowls with pour spouts and measurement markings. BPA free.",
  [ax("Color", "Blue", "White")], 1499)
P("Glass Food Storage Containers with Lids, 10 Piece", "Kindred Kitchen",
  ["Kitchen", "Food Storage", "Food Storage Containers"], "glass",
  "Oven safe tempered glass containers with airtight, leakproof locking lids. Lids are BPA free. "
  "Containers are microwave, freezer and dishwasher safe.",
  [ax("Material", "Glass")], 3299)
P("Plastic Food Storage Containers with Lids, 20 Piece", "EveryDay Basics",
  ["Kitchen", "Food Storage", "Food Storage Containers"], "plastic",
  "Stackable plastic containers in assorted sizes for leftovers and meal prep. BPA free and microwave safe. "
  "Hand wash recommended.",
  [ax("Material", "Plastic")], 1799)
P("Insulated Stainless Steel Water Bottle", "Summit Flask", ["Kitchen", "Drinkware", "Water Bottles"],
  "stainless steel",
  "Double wall vacuum insulated bottle keeps drinks cold for 24 hours or hot for 12. BPA free, leakproof lid "
  "with a carry loop. Fits most cup holders.",
  [ax("Size", "20 oz", ("32 oz", 500)), ax("Color", "Black", "Blue", "Green", "White")], 2499)
P("Plastic Sports Water Bottle", "EveryDay Basics", ["Kitchen", "Drinkware", "Water Bottles"], "plastic",
  "Lightweight plastic water bottle with a flip straw lid. BPA free and dishwasher safe.",
  [ax("Size", "24 oz"), ax("Color", "Blue", "Red", "Black", "Green")], 899)
P("Kids Insulated Water Bottle with Straw", "Little Sprout", ["Kitchen", "Drinkware", "Water Bottles"],
  "stainless steel",
  "Vacuum insulated stainless steel bottle sized for little hands. Leakproof straw lid, BPA free and "
  "dishwasher safe.",
  [ax("Size", "12 oz"), ax("Color", "Pink", "Blue", "Green")], 1899, age="kids")
P("Kids Water Bottle with Pop-Up Straw", "EveryDay Basics", ["Kitchen", "Drinkware", "Water Bottles"], "plastic",
  "Lightweight kids bottle with a pop-up straw and carry handle. BPA free.",
  [ax("Size", "14 oz"), ax("Color", "Blue", "Pink")], 699, age="kids")
P("Nonstick Frying Pan", "Kindred Kitchen", ["Kitchen", "Cookware", "Frying Pans"], "aluminum",
  "Heavy gauge aluminum frying pan with a PFOA free nonstick coating. Stay-cool handle, dishwasher safe and oven "
  "safe to 400F.",
  [ax("Size", "8 inch", ("10 inch", 500), ("12 inch", 1000))], 1999)
P("Tri-Ply Stainless Steel Frying Pan", "Kindred Kitchen", ["Kitchen", "Cookware", "Frying Pans"],
  "stainless steel",
  "Tri-ply stainless steel frying pan, fully clad for even heating with no hot spots. Induction compatible, oven "
  "safe and dishwasher safe.",
  [ax("Size", "10 inch", ("12 inch", 1000)), ax("Material", "Stainless Steel")], 3999)
P("Pre-Seasoned Cast Iron Skillet", "Hearth & Pine", ["Kitchen", "Cookware", "Frying Pans"], "cast iron",
  "Pre-seasoned cast iron skillet ready to use out of the box. Excellent heat retention for searing, baking and "
  "frying. Oven safe and induction compatible. Hand wash only.",
  [ax("Size", "10 inch", ("12 inch", 700)), ax("Material", "Cast Iron")], 2299)
P("Ceramic Coffee Mugs, Set of 4", "Kindred Kitchen", ["Kitchen", "Drinkware", "Mugs"], "ceramic",
  "Classic ceramic mugs with a glossy glaze and comfortable handle. Dishwasher safe and microwave safe.",
  [ax("Size", "12 oz", ("16 oz", 400)), ax("Color", "White", "Blue", "Black")], 2499)
P("Stainless Steel Travel Mug", "Summit Flask", ["Kitchen", "Drinkware", "Travel Mugs"], "stainless steel",
  "Vacuum insulated travel mug with a leakproof flip lid. Keeps coffee hot for 6 hours. BPA free and fits most "
  "cup holders.",
  [ax("Size", "16 oz"), ax("Color", "Black", "Red", "Silver")], 1999)
P("Plastic Travel Mug", "EveryDay Basics", ["Kitchen", "Drinkware", "Travel Mugs"], "plastic",
  "Double wall plastic travel mug with a screw-on lid. BPA free.",
  [ax("Size", "16 oz"), ax("Color", "Black", "Blue")], 799)
P("Glass French Press Coffee Maker", "Hearth & Pine", ["Kitchen", "Coffee & Tea", "French Presses"], "glass",
  "Borosilicate glass carafe with a fine mesh filter for full-bodied coffee. Makes 4 cups. Carafe is "
  "dishwasher safe.",
  [ax("Size", "34 oz")], 2499)
P("Stainless Steel French Press", "Hearth & Pine", ["Kitchen", "Coffee & Tea", "French Presses"],
  "stainless steel",
  "Double wall stainless steel French press that keeps coffee hot for an hour. Shatterproof, with a fine mesh "
  "filter. Dishwasher safe.",
  [ax("Size", "34 oz")], 3999)
P("Glass Electric Kettle", "Kindred Kitchen", ["Kitchen", "Small Appliances", "Electric Kettles"], "glass",
  "1.7 liter borosilicate glass kettle with a blue LED light. Cordless pour from a 360 degree base, auto shut-off "
  "and boil-dry protection. BPA free.",
  [ax("Size", "1.7 L")], 3499)
P("Stainless Steel Electric Kettle", "Kindred Kitchen", ["Kitchen", "Small Appliances", "Electric Kettles"],
  "stainless steel",
  "1.7 liter stainless steel kettle that boils water in minutes. Cordless pour from a 360 degree base, auto "
  "shut-off and boil-dry protection. BPA free.",
  [ax("Size", "1.7 L"), ax("Color", "Silver", "Black")], 2999)
P("Compact Electric Kettle", "EveryDay Basics", ["Kitchen", "Small Appliances", "Electric Kettles"], "plastic",
  "1 liter plastic kettle with auto shut-off and a water level window. Compact size for dorms and offices.",
  [ax("Size", "1 L"), ax("Color", "White", "Black")], 1599)
P("Silicone Spatula Set, 5 Piece", "Kindred Kitchen", ["Kitchen", "Kitchen Utensils", "Spatulas"], "silicone",
  "Seamless silicone spatulas that are heat resistant to 600F. BPA free, won't scratch nonstick cookware and "
  "dishwasher safe.",
  [ax("Color", "Red", "Black", "Gray")], 1499)
P("Nylon Spatula Set, 3 Piece", "EveryDay Basics", ["Kitchen", "Kitchen Utensils", "Spatulas"], "nylon",
  "Basic nylon spatulas for flipping and stirring. Heat resistant to 400F.",
  [ax("Color", "Red", "Black")], 699)
P("Stainless Steel Dish Drying Rack", "Tidyhome", ["Kitchen", "Sink Organization", "Dish Racks"],
  "stainless steel",
  "Two-tier rustproof stainless steel dish rack with a utensil holder, cup holder and adjustable drainboard spout.",
  [ax("Material", "Stainless Steel")], 3999)
P("Plastic Dish Drying Rack", "EveryDay Basics", ["Kitchen", "Sink Organization", "Dish Racks"], "plastic",
  "Compact plastic dish rack with a removable utensil cup and drip tray.",
  [ax("Color", "White", "Gray")], 1599)
P("Stainless Steel Step Trash Can", "Tidyhome", ["Kitchen", "Trash & Recycling", "Trash Cans"], "stainless steel",
  "Fingerprint proof stainless steel step trash can with a soft-close lid and removable inner bucket.",
  [ax("Size", "8 Gallon", ("13 Gallon", 2000))], 4999)
P("Plastic Kitchen Trash Can with Lid", "EveryDay Basics", ["Kitchen", "Trash & Recycling", "Trash Cans"],
  "plastic",
  "Lightweight plastic step trash can with a foot pedal and lid.",
  [ax("Size", "13 Gallon"), ax("Color", "White", "Black")], 2499)
P("Cotton Kitchen Towels", "Hearth & Pine", ["Kitchen", "Kitchen Linens", "Dish Towels"], "cotton",
  "100% cotton waffle weave kitchen towels. Highly absorbent, lint free and machine washable.",
  [ax("Pack", "Pack of 6", ("Pack of 12", 1000)), ax("Color", "White", "Gray", "Blue")], 1499)
P("Microfiber Dish Cloths, 12 Pack", "EveryDay Basics", ["Kitchen", "Kitchen Linens", "Dish Towels"],
  "microfiber",
  "Soft microfiber cleaning cloths that soak up spills fast. Machine washable.",
  [ax("Color", "Gray", "Blue")], 999)

# --------------------------------------------------------------- Grocery
P("Gluten Free Butter Microwave Popcorn", "Northfield Pantry", ["Grocery", "Snacks", "Popcorn"], "",
  "Whole grain microwave popcorn with real butter flavor. Certified gluten free and non-GMO. 3.3 oz bags.",
  [ax("Pack", "Pack of 6", ("Pack of 12", 450))], 599)
P("Butter Microwave Popcorn", "EveryDay Basics", ["Grocery", "Snacks", "Popcorn"], "",
  "Classic movie theater butter flavor microwave popcorn. Pops in about 3 minutes.",
  [ax("Pack", "Pack of 6", ("Pack of 12", 250))], 349)
P("Organic Popcorn Kernels", "Greenvale", ["Grocery", "Snacks", "Popcorn"], "",
  "Organic yellow popcorn kernels for the stovetop or an air popper. Non-GMO, gluten free, whole grain.",
  [ax("Size", "2 lb")], 899)
P("Organic Whole Bean Coffee, Medium Roast", "Greenvale", ["Grocery", "Coffee", "Whole Bean Coffee"], "",
  "USDA organic, fair trade arabica beans roasted to a smooth medium with notes of cocoa and caramel.",
  [ax("Size", "12 oz", ("2 lb", 1400))], 1299)
P("Whole Bean Coffee, Dark Roast", "Northfield Pantry", ["Grocery", "Coffee", "Whole Bean Coffee"], "",
  "Bold dark roast arabica blend with a smoky finish.",
  [ax("Size", "12 oz", ("2 lb", 900))], 899)
P("Gluten Free Brown Rice Penne", "Greenvale", ["Grocery", "Pasta & Noodles", "Pasta"], "",
  "Organic brown rice penne that cooks up al dente. Certified gluten free and non-GMO. 12 oz box.",
  [ax("Pack", "Pack of 1", ("Pack of 6", 1950))], 449)
P("Penne Rigate Pasta", "EveryDay Basics", ["Grocery", "Pasta & Noodles", "Pasta"], "",
  "Classic durum wheat semolina penne. 16 oz box.",
  [ax("Pack", "Pack of 1", ("Pack of 6", 900))], 199)
P("Organic Extra Virgin Olive Oil", "Greenvale", ["Grocery", "Pantry", "Olive Oil"], "",
  "Cold pressed organic extra virgin olive oil from a single harvest. Packed in a dark bottle to protect flavor.",
  [ax("Size", "500 ml", ("1 L", 900))], 1299)
P("Extra Virgin Olive Oil", "EveryDay Basics", ["Grocery", "Pantry", "Olive Oil"], "",
  "Everyday extra virgin olive oil for cooking and dressings.",
  [ax("Size", "1 L")], 1199)

# --------------------------------------------------------------- Home: lighting, bedding, storage, cleaning
P("Dimmable Glass Globe Pendant Light", "Lumen & Co", ["Home", "Lighting", "Pendant Lights"], "glass",
  "Clear glass globe pendant with an adjustable cord, perfect over a dining table or kitchen island. Dimmable with "
  "a compatible wall dimmer. E26 socket.",
  [ax("Color", "Black", "Gold", "White")], 7999)
P("Industrial Metal Pendant Light", "Brightway", ["Home", "Lighting", "Pendant Lights"], "metal",
  "Industrial metal dome pendant with an adjustable cord. E26 socket, bulb not included.",
  [ax("Color", "Black", "White")], 3999)
P("Dimmable LED Desk Lamp with USB Port", "Lumen & Co", ["Home", "Lighting", "Desk Lamps"], "",
  "Eye-caring LED desk lamp with touch control, 5 brightness levels and 3 color modes. Fully dimmable, with a USB "
  "charging port for your phone.",
  [ax("Color", "Black", "White")], 3499)
P("Basic Desk Lamp", "EveryDay Basics", ["Home", "Lighting", "Desk Lamps"], "metal",
  "Simple desk lamp with a flexible neck and metal shade. E26 socket.",
  [ax("Color", "Black", "White", "Blue")], 1699)
P("Dimmable LED Light Bulbs, A19 60W Equivalent", "Brightway", ["Home", "Lighting", "Light Bulbs"], "",
  "Dimmable soft white 2700K LED bulbs that use just 9 watts. Flicker free, 15,000 hour life.",
  [ax("Pack", "Pack of 4", ("Pack of 8", 900))], 1299)
P("LED Light Bulbs, A19 60W Equivalent", "EveryDay Basics", ["Home", "Lighting", "Light Bulbs"], "",
  "Soft white 2700K LED bulbs. Energy saving 9 watt bulbs for everyday lamps and fixtures.",
  [ax("Pack", "Pack of 4", ("Pack of 8", 600))], 799)
P("Cotton Percale Sheet Set", "Dreamloft", ["Home", "Bedding", "Sheet Sets"], "cotton",
  "Crisp, breathable 100% cotton percale sheets, 400 thread count. Deep pocket fitted sheet fits mattresses up "
  "to 16 inches.",
  [ax("Size", "Twin", ("Full", 1000), ("Queen", 2000), ("King", 3000)), ax("Color", "White", "Gray", "Blue")], 4999)
P("Microfiber Sheet Set", "EveryDay Basics", ["Home", "Bedding", "Sheet Sets"], "microfiber",
  "Soft brushed microfiber sheets that resist wrinkles and fading. Deep pocket fitted sheet.",
  [ax("Size", "Twin", ("Full", 300), ("Queen", 600), ("King", 900)), ax("Color", "White", "Gray", "Blue", "Beige")],
  1999)
P("Waterproof Mattress Protector", "Dreamloft", ["Home", "Bedding", "Mattress Protectors"], "cotton",
  "Waterproof mattress protector with a soft cotton terry surface. Breathable, noiseless and machine washable.",
  [ax("Size", "Twin", ("Full", 300), ("Queen", 500), ("King", 1000))], 2499)
P("Quilted Mattress Pad", "EveryDay Basics", ["Home", "Bedding", "Mattress Pads"], "polyester",
  "Quilted mattress pad with a deep fitted skirt for extra softness. Machine washable.",
  [ax("Size", "Twin", ("Full", 300), ("Queen", 600), ("King", 900))], 1999)
P("Cotton Rope Storage Basket", "Hearth & Pine", ["Home", "Storage & Organization", "Storage Baskets"], "cotton",
  "Hand-woven cotton rope basket with handles for blankets, toys or laundry.",
  [ax("Size", "Medium", ("Large", 700)), ax("Color", "Beige", "Gray", "White")], 1999)
P("Fabric Storage Baskets, 6 Pack", "EveryDay Basics", ["Home", "Storage & Organization", "Storage Baskets"],
  "polyester",
  "Collapsible fabric storage cubes with dual handles. Fits standard cube shelves.",
  [ax("Color", "Gray", "Beige")], 1799)
P("Cordless Stick Vacuum", "Tidyhome", ["Home", "Cleaning", "Vacuums"], "",
  "Lightweight cordless stick vacuum with up to 40 minutes of runtime, HEPA filtration and a wall mount. "
  "Converts to a handheld.",
  [ax("Color", "Gray", "Blue")], 14999)
P("Cordless Handheld Vacuum", "Tidyhome", ["Home", "Cleaning", "Vacuums"], "",
  "Compact cordless handheld vacuum for cars, stairs and crumbs. Rechargeable, with a washable filter.",
  [], 6999)
P("Bagless Upright Vacuum", "EveryDay Basics", ["Home", "Cleaning", "Vacuums"], "",
  "Powerful bagless upright vacuum with a 25 ft power cord and multi-surface brush roll.",
  [], 5999)
P("Free & Clear Laundry Detergent Pods, 42 Count", "Tidyhome", ["Home", "Laundry", "Laundry Detergent"], "",
  "Hypoallergenic laundry pods that are fragrance free and dye free. Works in HE and standard machines.",
  [], 1399)
P("Laundry Detergent Pods, Fresh Scent, 42 Count", "EveryDay Basics", ["Home", "Laundry", "Laundry Detergent"], "",
  "3-in-1 laundry pods with a fresh clean scent. Works in HE and standard machines.",
  [], 999)

# --------------------------------------------------------------- Electronics accessories
P("Braided USB-C to USB-C Cable, 2 Pack", "Voltline", ["Electronics", "Cables", "USB-C Cables"], "nylon",
  "Durable braided nylon USB-C to USB-C charging cables with 60W fast charging. Two cables per pack.",
  [ax("Size", "3 ft", ("6 ft", 300), ("10 ft", 600)), ax("Color", "Black", "White")], 1099)
P("USB-C to USB-A Cable", "EveryDay Basics", ["Electronics", "Cables", "USB-C Cables"], "",
  "Charge and sync cable with a USB-C connector on one end and USB-A on the other.",
  [ax("Size", "3 ft", ("6 ft", 200)), ax("Color", "Black", "White")], 599)
P("Wireless Earbuds with Charging Case", "Voltline", ["Electronics", "Audio", "Earbuds"], "",
  "Bluetooth 5.3 wireless earbuds with 30 hours of total playtime. IPX7 waterproof, touch controls and a "
  "USB-C charging case.",
  [ax("Color", "Black", "White")], 4999)
P("Wired Earbuds with Microphone", "EveryDay Basics", ["Electronics", "Audio", "Earbuds"], "",
  "Comfortable in-ear earbuds with a 3.5mm plug and in-line microphone.",
  [ax("Color", "Black", "White")], 999)
P("Kids Wireless Headphones", "Little Sprout", ["Electronics", "Audio", "Headphones"], "",
  "Bluetooth headphones for kids with an 85dB volume limit to protect young ears. Foldable, padded ear cups and "
  "a 30-hour battery.",
  [ax("Color", "Blue", "Pink", "Purple")], 2499, age="kids")
P("Portable Bluetooth Speaker", "Voltline", ["Electronics", "Audio", "Speakers"], "",
  "Compact Bluetooth speaker with rich bass and 12 hours of playtime. IPX7 waterproof, it even floats in the pool.",
  [ax("Color", "Black", "Blue", "Red")], 3999)
P("Mini Bluetooth Speaker", "EveryDay Basics", ["Electronics", "Audio", "Speakers"], "",
  "Pocket size Bluetooth speaker with a built-in mic and 6 hours of playtime.",
  [ax("Color", "Black", "Red")], 1499)
P("microSD Memory Card with Adapter", "Voltline", ["Electronics", "Storage", "Memory Cards"], "",
  "High speed microSDXC card, A2 U3 V30, for phones, tablets and action cams. SD adapter included.",
  [ax("Size", "64GB", ("128GB", 700), ("256GB", 1900))], 1099)
P("Wireless Mouse", "Voltline", ["Electronics", "Computer Accessories", "Mice"], "",
  "Quiet click wireless mouse with a 2.4GHz USB receiver and 18 month battery life.",
  [ax("Color", "Black", "Gray", "Pink")], 1999)
P("Wired Optical Mouse", "EveryDay Basics", ["Electronics", "Computer Accessories", "Mice"], "",
  "Plug and play USB optical mouse with a 5 ft cord.",
  [ax("Color", "Black", "Pink")], 799)

# --------------------------------------------------------------- Office
P("Gel Pens, 12 Pack", "Papertrail", ["Office", "Writing Supplies", "Pens"], "",
  "Smooth writing 0.7mm gel pens with quick dry ink and comfortable grips.",
  [ax("Color", "Black", "Blue")], 899)
P("Bamboo Desk Organizer", "Oak & Ember", ["Office", "Desk Accessories", "Desk Organizers"], "bamboo",
  "Natural bamboo desk organizer with 5 compartments, a small drawer and a phone slot.",
  [ax("Material", "Bamboo")], 2499)
P("Mesh Desk Organizer", "EveryDay Basics", ["Office", "Desk Accessories", "Desk Organizers"], "metal",
  "Metal mesh desk organizer with 4 compartments and a sliding drawer.",
  [ax("Color", "Black", "White")], 1299)

# --------------------------------------------------------------- Pet
P("Grain Free Dry Dog Food, Chicken & Sweet Potato", "Tailwise", ["Pet", "Dog", "Dog Food"], "",
  "Real chicken is the first ingredient. Grain free recipe with no corn, wheat or soy, for adult dogs of all sizes.",
  [ax("Size", "4 lb", ("15 lb", 2800), ("30 lb", 5800))], 1699)
P("Adult Dry Dog Food, Chicken & Rice", "EveryDay Basics", ["Pet", "Dog", "Dog Food"], "",
  "Complete and balanced dry dog food with chicken and rice for adult dogs.",
  [ax("Size", "4 lb", ("15 lb", 1800), ("30 lb", 3500))], 999)
P("Stainless Steel Dog Bowl", "Tailwise", ["Pet", "Dog", "Dog Bowls"], "stainless steel",
  "Rust resistant stainless steel bowl with a non-slip rubber base. Dishwasher safe.",
  [ax("Size", "Small", ("Medium", 300), ("Large", 600))], 899)
P("Plastic Dog Bowl", "EveryDay Basics", ["Pet", "Dog", "Dog Bowls"], "plastic",
  "Lightweight plastic pet bowl with a rounded bottom.",
  [ax("Size", "Small", ("Medium", 100), ("Large", 200)), ax("Color", "Blue", "Red")], 399)
P("Ceramic Cat Bowl", "Tailwise", ["Pet", "Cat", "Cat Bowls"], "ceramic",
  "Shallow ceramic bowl that is easy on whiskers. Dishwasher safe and microwave safe.",
  [ax("Color", "White", "Blue", "Pink")], 1299)
P("Unscented Clumping Cat Litter", "Tailwise", ["Pet", "Cat", "Cat Litter"], "",
  "Hard clumping clay litter that is unscented and 99% dust free. Locks in odors without added fragrance.",
  [ax("Size", "20 lb", ("40 lb", 1100))], 1599)
P("Fresh Scent Clumping Cat Litter", "EveryDay Basics", ["Pet", "Cat", "Cat Litter"], "",
  "Clumping clay litter with a fresh scent for odor control.",
  [ax("Size", "20 lb", ("40 lb", 800))], 1099)

# --------------------------------------------------------------- Baby / kids
P("Glass Baby Bottles, 3 Pack", "Little Sprout", ["Baby", "Feeding", "Baby Bottles"], "glass",
  "Borosilicate glass baby bottles with anti-colic vents and slow flow nipples. BPA free and dishwasher safe.",
  [ax("Size", "4 oz", ("8 oz", 300))], 2399, age="infant")
P("Baby Bottles, 3 Pack", "EveryDay Basics", ["Baby", "Feeding", "Baby Bottles"], "plastic",
  "Plastic baby bottles with anti-colic vents and slow flow nipples. BPA free.",
  [ax("Size", "4 oz", ("8 oz", 100))], 1199, age="infant")
P("Kids Stainless Steel Bento Lunch Box", "Little Sprout", ["Kids", "School & Lunch", "Lunch Boxes"],
  "stainless steel",
  "Leakproof stainless steel bento box with 3 compartments. Dishwasher safe.",
  [ax("Color", "Blue", "Pink")], 2999, age="kids")
P("Kids Plastic Lunch Box", "EveryDay Basics", ["Kids", "School & Lunch", "Lunch Boxes"], "plastic",
  "Bento-style plastic lunch box with 4 compartments. BPA free.",
  [ax("Color", "Blue", "Pink", "Green")], 1199, age="kids")
P("Fragrance Free Baby Wipes", "Little Sprout", ["Baby", "Diapering", "Baby Wipes"], "",
  "Gentle baby wipes made with 99% water. Fragrance free and hypoallergenic.",
  [ax("Pack", "Pack of 4", ("Pack of 12", 1500))], 999, age="infant")
P("Scented Baby Wipes", "EveryDay Basics", ["Baby", "Diapering", "Baby Wipes"], "",
  "Thick, soft baby wipes with a light fresh scent.",
  [ax("Pack", "Pack of 4", ("Pack of 12", 1000))], 699, age="infant")


def code(value):
    m = re.fullmatch(r"Pack of (\d+)", value)
    if m:
        return m.group(1) + "PK"
    return re.sub(r"[^A-Z0-9]", "", value.upper())


def build():
    rows = []
    for n, p in enumerate(PRODUCTS, 1):
        pid = "H%03d" % n
        axes = p["axes"]
        variants = []
        for combo in itertools.product(*[vals for _, vals in axes]) if axes else [()]:
            opts = [{"name": name, "value": v} for (name, _), (v, _) in zip(axes, combo)]
            price = p["base"] + sum(d for _, d in combo)
            shown = [v for (name, vals), (v, _) in zip(axes, combo) if len(vals) > 1 and name != "Material"]
            vtitle = p["title"] + (" - " + ", ".join(shown) if shown else "")
            vid = pid + "-" + ("-".join(code(v) for (name, vals), (v, _) in zip(axes, combo)
                                        if name != "Material") or "STD")
            variants.append({
                "id": vid, "title": vtitle,
                "price": {"amount": price, "currency": "USD"},
                "availability": {"available": True, "status": "in_stock"},
                "variant_options": opts, "barcodes": [],
            })
        rows.append({
            "id": pid, "title": p["title"], "description": p["desc"],
            "url": "https://home.example/" + pid.lower(), "brand": p["brand"],
            "categories": p["cats"], "material": p["material"],
            "gender": p["gender"], "age_group": p["age"], "variants": variants,
        })
    return rows


if __name__ == "__main__":
    rows = build()
    ids = [v["id"] for r in rows for v in r["variants"]]
    assert len(ids) == len(set(ids)), "duplicate variant id"
    with open(os.path.join(HERE, "catalog.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print("%d products, %d variants -> catalog.jsonl" % (len(rows), len(ids)))
