"""Identity resolution's quality on a generated store with many namesakes (bench/identity_bench.py's third set),
measured the way the benchmark measures it: pairwise precision and recall against the generated truth."""

from __future__ import annotations

from bench.identity_bench import crowded_records, evaluate


def test_many_namesakes_do_not_flood_the_reviewer(monkeypatch) -> None:
    """The same store with the common-name rule and without it (a cut no name reaches): the rule leaves merges
    alone, removes most suggestions, and those it removes are mostly wrong."""
    records, truth = crowded_records(people=400, seed=5)
    with_rule = evaluate("many namesakes", records, truth, region="PL")
    monkeypatch.setattr("core.identity.COMMON_NAME_NAMESAKES", 10**9)
    without = evaluate("many namesakes, every namesake suggested", records, truth, region="PL")

    assert with_rule["skipped"] == without["skipped"] == 0
    assert with_rule["automatic_merges"] == without["automatic_merges"]
    assert with_rule["automatic_merges"]["precision"] == 1.0
    assert with_rule["suggestions"] * 5 < without["suggestions"]
    kept, all_ = with_rule["merges_plus_suggestions"], without["merges_plus_suggestions"]
    assert kept["precision"] > 2 * all_["precision"]
    assert kept["recall"] >= all_["recall"] - 0.1 and kept["f1"] > all_["f1"]
