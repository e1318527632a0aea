"""How many look-alike name pairs the duplicate search's blocking keys still bring together, and at what cost.

    .venv/bin/python bench/blocking_recall.py [--fixtures ../shared/fixtures/identity] [--generated 3000]

Blocking trades recall for speed: two contacts are compared only if they share a key. This script compares
every pair of names of a set exhaustively (the ground truth for blocking: pairs whose name similarity reaches
the scorer's floor, the only pairs that can become suggestions), then reports, per key scheme, the share of
those pairs that share a key (blocking recall) and the number of pairs the scheme makes the scorer compare
(its cost). Sets: splink fake_1000 and the Senzing truth set (public, with real typos), and generated
Polish/Russian/English names with typos, dropped diacritics, swapped order and Cyrillic spellings.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from itertools import combinations, permutations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.identity_bench import senzing_records, splink_records  # noqa: E402
from bench.import_bench import FIRST, LAST, surname  # noqa: E402
from core.identity import MAX_CANDIDATES  # noqa: E402
from core.matching import NAME_SIMILARITY_FLOOR, _name_similarity, blocking_keys  # noqa: E402
from core.normalize import name_skeleton, name_tokens  # noqa: E402


def keys_pair(first_len: int, second_len: int):
    """A candidate scheme: `first_len` skeleton letters of one name word and `second_len` of another."""
    def keys_of(name: str) -> set[str]:
        skeletons = [s for s in (name_skeleton(t) for t in name_tokens(name)[:4]) if s]
        keys = {f"1:{skeletons[0][:6]}"} if len(skeletons) == 1 else set()
        keys.update(f"p:{a[:first_len]}/{b[:second_len]}" for a, b in permutations(skeletons, 2))
        return keys
    return keys_of


# "in use" is core.matching.blocking_keys (4 letters / initial); the others are finer candidates.
SCHEMES = {"in use (4/1)": lambda name: blocking_keys([name]), "4/2": keys_pair(4, 2), "3/2": keys_pair(3, 2),
           "5/2": keys_pair(5, 2), "4/3": keys_pair(4, 3), "3/3": keys_pair(3, 3)}


Labelled = tuple[list[str], set[tuple[int, int]]]


def _clustered(rows: list[tuple[str, str]]) -> Labelled:
    """Names and the index pairs that are one person, from (name, cluster) rows."""
    names, clusters = [], defaultdict(list)
    for name, cluster in rows:
        if name:
            clusters[cluster].append(len(names))
            names.append(name)
    return names, {pair for members in clusters.values() for pair in combinations(members, 2)}


def fixture_names(folder: Path) -> dict[str, Labelled]:
    """The identity benchmark's records of both truth sets, as names and their true pairs."""
    sets = {"splink fake_1000": splink_records(folder / "splink-fake-1000"),
            "senzing truth set": senzing_records(folder / "senzing-truthset")}
    return {name: _clustered([(contact["name"] or "", truth[key]) for key, contact in records])
            for name, (records, truth) in sets.items()}


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("substitute", "delete", "transpose", "double"))
    if kind == "substitute":
        return word[:i] + rng.choice("aeiouklmnrstwz") + word[i + 1:]
    if kind == "delete":
        return word[:i] + word[i + 1:]
    if kind == "transpose":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i] + word[i:]


def generated_names(n: int, seed: int = 11) -> Labelled:
    """n names like the import benchmark's, a third of them variants of an earlier one (the true pairs)."""
    rng = random.Random(seed)
    names: list[str] = []
    pairs: set[tuple[int, int]] = set()
    for _ in range(n):
        if names and rng.random() < 0.33:
            origin = rng.randrange(len(names))
            pairs.add((origin, len(names)))
            first, last = names[origin].split(" ", 1)
            change = rng.choice(("typo last", "typo first", "ascii", "order", "both typos"))
            if change in ("typo last", "both typos"):
                last = _typo(rng, last)
            if change in ("typo first", "both typos"):
                first = _typo(rng, first)
            if change == "ascii":
                first, last = (w.translate(str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ"))
                               for w in (first, last))
            names.append(f"{last} {first}" if change == "order" else f"{first} {last}")
        else:
            names.append(f"{rng.choice(FIRST)} {surname(rng) if rng.random() < 0.9 else rng.choice(LAST)}")
    return names, pairs


def measure(names: list[str], true_pairs: set[tuple[int, int]]) -> dict:
    # Only pairs whose names reach the scorer's floor can become suggestions: blocking can lose no others.
    findable = {(i, j) for i, j in true_pairs
                if _name_similarity(names[i], names[j], NAME_SIMILARITY_FLOOR)[0] >= NAME_SIMILARITY_FLOOR}
    report: dict = {"names": len(names), "true_pairs": len(true_pairs), "findable_by_name": len(findable)}
    for scheme, keys_of in SCHEMES.items():
        blocks: dict[str, set[int]] = defaultdict(set)
        keys = [keys_of(name) for name in names]
        for i, ks in enumerate(keys):
            for k in ks:
                blocks[k].add(i)
        found = sum(1 for i, j in findable if keys[i] & keys[j])
        compared = set()
        for members in blocks.values():
            compared.update(combinations(sorted(members), 2))
        report[scheme] = {"blocking_recall": round(found / len(findable), 4) if findable else 1.0,
                          "missed": len(findable) - found, "pairs_compared": len(compared),
                          "largest_block": max((len(m) for m in blocks.values()), default=0)}
    return report


def cost_at_scale(n: int, probe: int = 2000) -> dict:
    """Candidates the duplicate search would compare for each of the last `probe` names of a store of n
    generated names (capped per key as core.identity caps it): what one more contact costs when the store is
    full."""
    names, _ = generated_names(n, seed=5)
    report = {}
    for scheme, keys_of in SCHEMES.items():
        blocks: dict[str, list[int]] = defaultdict(list)
        keys = [keys_of(name) for name in names]
        for i, ks in enumerate(keys[: n - probe]):
            for k in ks:
                blocks[k].append(i)
        # The newest MAX_CANDIDATES members of each of the contact's keys (core.identity.BlockIndex).
        counts = sorted(len({m for k in keys[i] for m in blocks.get(k, [])[-MAX_CANDIDATES:]})
                        for i in range(n - probe, n))
        report[scheme] = {"mean": round(sum(counts) / len(counts), 1), "p95": counts[int(0.95 * len(counts))]}
    return {"set": f"cost: candidates per new contact in a store of {n:,} generated names", **report}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", type=Path, default=ROOT.parent / "shared" / "fixtures" / "identity")
    parser.add_argument("--generated", type=int, default=3000)
    parser.add_argument("--scale", type=int, default=100_000)
    args = parser.parse_args()
    sets = fixture_names(args.fixtures)
    sets[f"generated {args.generated}"] = generated_names(args.generated)
    for name, (names, pairs) in sets.items():
        print(json.dumps({"set": name, **measure(names, pairs)}, ensure_ascii=False))
    print(json.dumps(cost_at_scale(args.scale), ensure_ascii=False))


if __name__ == "__main__":
    main()
