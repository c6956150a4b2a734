"""The offline evaluation: baselines, metrics, loaders, and the replay protocol."""

from __future__ import annotations

import random
import time

import pytest

from agents.evaluate import load_events
from agents.evaluate import recommendations_main as main
from streams.recommend.evaluation import (
    InProcessSystem,
    Metrics,
    MostPopular,
    RecentPopular,
    SystemParams,
    evaluate,
    format_report,
    measure_cost,
    taobao_eval_events,
    time_ordered,
    with_overrides,
    yoochoose_eval_events,
)


def view(user: str, item: str, ts: int, category: str = "c") -> tuple[str, dict, bool]:
    return ("clickstream", {"event_type": "view_item", "user_id": user, "item_id": item,
                            "category": category, "price": 1.0, "ts": ts}, True)


def test_metrics_count_hits_and_reciprocal_ranks():
    m = Metrics()
    ranking = [f"i{n}" for n in range(30)]
    assert m.add(ranking, "i0") == 1
    assert m.add(ranking, "i14") == 15
    assert m.add(ranking, "i25") is None                  # beyond 20 does not count
    assert m.add([], "x") is None
    assert m.as_dict() == pytest.approx({"n": 4, "hr10": 0.25, "hr20": 0.5,
                                         "mrr20": (1 + 1 / 15) / 4})


def test_most_popular_matches_a_brute_force_count():
    rng = random.Random(3)
    mp = MostPopular(k=5)
    counts: dict[str, int] = {}
    for _ in range(3000):
        item = f"i{int(rng.paretovariate(1.2)) % 60}"
        mp.add(item)
        counts[item] = counts.get(item, 0) + 1
        expected = sorted(counts.values(), reverse=True)[:5]
        assert [counts[i] for i in mp.ranking()] == expected


def test_recent_popularity_forgets_outside_its_window():
    rp = RecentPopular(window_ms=1000, refresh_ms=0, k=2)
    for ts in range(600, 603):
        rp.add("old", ts)
    rp.add("new", 1500)
    assert rp.ranking() == ["old", "new"]                 # the window starts at 500
    rp.add("new", 2500)
    assert rp.ranking() == ["new"]
    assert rp.counts == {"new": 2}


def test_recent_popularity_reranks_only_at_the_refresh_interval():
    rp = RecentPopular(window_ms=10**9, refresh_ms=100, k=1)
    rp.add("a", 0)
    rp.add("b", 50)
    rp.add("b", 60)
    assert rp.ranking() == ["a"]
    rp.add("c", 100)
    assert rp.ranking() == ["b"]


def test_the_system_learns_a_pattern_that_popularity_cannot():
    rng = random.Random(11)
    events = []
    ts = 0
    for user in range(2000):
        first = f"a{rng.randrange(200)}"
        follow = f"b{first[1:]}"                           # a-n is followed by b-n
        for item in (first, follow):
            ts += 1000
            events.append(view(f"u{user}", item, ts, f"c{rng.randrange(5)}"))
        ts += 1000
        events.append(view(f"once{user}", "pop", ts))     # popular, never scored
    report = evaluate(events, dataset="synthetic")
    hr20 = {method: m.as_dict()["hr20"] for method, m in report.all.items()}
    assert report.all["system"].n == 2000
    assert hr20["system"] > 0.8 > 0.2 > max(hr20["most_popular"], hr20["recent_popular"])
    assert report.hits_by_source["covisitation"] > 1500
    assert report.events == len(events)


def test_only_marked_events_of_known_users_are_scored():
    events = [view("u", "a", 1), view("u", "b", 2), view("v", "a", 3)]
    events[1] = (events[1][0], events[1][1], False)
    report = evaluate([*events, view("u", "c", 4)])
    assert report.all["system"].n == 1                    # u's third: u's second not marked
    assert report.new["system"].n == 1


def test_repeat_items_count_in_all_but_not_in_new():
    report = evaluate([view("u", "a", 1), view("u", "b", 2), view("u", "a", 3)])
    assert (report.all["system"].n, report.new["system"].n) == (2, 1)
    assert report.all["system"].hits20 >= 1               # "a" is a recent item


def test_the_clock_only_adds_timings():
    events = [view("u", f"i{n % 3}", n) for n in range(20)]
    plain = evaluate(events).as_dict()
    timed = evaluate(events, clock=time.perf_counter).as_dict()
    assert timed.pop("system_seconds") > 0
    plain.pop("system_seconds")
    assert timed == plain


def test_in_process_system_publishes_neighbours_and_trending():
    system = InProcessSystem(SystemParams(partitions=2))
    for n in range(10):                                   # a minute apart: snapshots due
        system.apply(*view(f"u{n}", "a", n * 60_000)[:2])
        system.apply(*view(f"u{n}", "b", n * 60_000 + 1)[:2])
    assert [row[0] for row in system.neighbours["a"]] == ["b"]
    assert {row[0] for row in system.view.overall} == {"a", "b"}
    assert system.candidates("nobody", 10**6)             # cold start: trending
    system.apply("clickstream", {"event_type": "search", "user_id": "u1", "ts": 1})  # ignored


def test_taobao_loader_sorts_stably_and_dev_keeps_the_first_half():
    rows = [{"user_id": "1", "item_id": str(n), "category_id": "3", "behavior": b, "ts": str(t)}
            for n, (b, t) in enumerate([("pv", 30), ("buy", 10), ("cart", 10), ("pv", 20),
                                         ("zzz", 15)])]
    events = taobao_eval_events(rows)
    assert [e["item_id"] if t == "clickstream" else e["items"][0]["item_id"]
            for t, e, _ in events] == ["1", "2", "3", "0"]
    assert len(taobao_eval_events(rows, dev=True)) == 2  # ts < 20 s


def test_yoochoose_dev_split_scores_only_the_last_days_sessions():
    day = 86_400
    train = [{"SessionId": "1", "ItemId": "a", "Time": "0"},
             {"SessionId": "1", "ItemId": "b", "Time": "10"},
             {"SessionId": "2", "ItemId": "a", "Time": str(3 * day)},
             {"SessionId": "2", "ItemId": "b", "Time": str(3 * day + 5)}]
    dev = yoochoose_eval_events(train, dev=True)
    assert [(e["user_id"], scored) for _, e, scored in dev] == [
        ("yc-1", False), ("yc-1", False), ("yc-2", True), ("yc-2", True)]
    assert all(e["category"] is None for _, e, _ in dev)
    assert yoochoose_eval_events([], dev=True) == []


def test_time_ordered_is_stable():
    events = [view("u", "x", 5), view("u", "y", 1), view("u", "z", 5)]
    assert [e["item_id"] for _, e, _ in time_ordered(events)] == ["y", "x", "z"]


def test_cli_and_loaders_on_small_files(tmp_path, capsys):
    lines = ["user_id,item_id,category_id,behavior,ts"]
    lines += [f"{u},{i},7,pv,{1511658000 + 60 * n}"
              for n, (u, i) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)])]
    csv_path = tmp_path / "tb.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    assert len(load_events("taobao", csv_path, limit=4)) == 4
    assert main(["taobao", str(csv_path)]) == 0
    out = capsys.readouterr().out
    assert "| system (hybrid) |" in out and "evaluated interactions 3" in out
    assert main(["taobao", str(csv_path), "--set", "candidates.recent_weight=0"]) == 0
    assert "[candidates.recent_weight=0]" in capsys.readouterr().out
    assert main(["taobao", str(csv_path), "--cost"]) == 0
    assert "user_update_us=" in capsys.readouterr().out

    folder = tmp_path / "yc"
    folder.mkdir()
    header = "SessionId\tItemId\tTime\n"
    (folder / "yoochoose-clicks-100k_train_full.txt").write_text(
        header + "1\ta\t100.0\n1\tb\t101.5\n")
    (folder / "yoochoose-clicks-100k_test.txt").write_text(header + "2\ta\t200.0\n2\tb\t201\n")
    report = evaluate(load_events("yoochoose", folder), dataset="yc")
    assert report.all["system"].n == 1 and report.all["system"].hits10 == 1
    assert "### yc" in format_report(report)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_events("movielens", folder)


def test_settings_can_be_overridden_by_name():
    params = with_overrides(SystemParams(), ["candidates.recent_weight=0",
                                             "user.kind_weights=1,1,1,1", "partitions=1"])
    assert params.candidates.recent_weight == 0.0 and params.partitions == 1
    assert params.user.kind_weights == (1.0, 1.0, 1.0, 1.0)
    for bad in ["candidates.nope=1", "nope.x=1", "nope=1"]:
        with pytest.raises(ValueError, match="unknown setting"):
            with_overrides(SystemParams(), [bad])


def test_measure_cost_reports_every_stage():
    events = [view(f"u{n % 4}", f"i{n % 9}", n * 1000) for n in range(200)]
    cost = measure_cost(events, time.perf_counter, repeats=2)
    assert set(cost) == {"user_update_us", "candidates_us", "item_pair_us", "trending_us",
                         "snapshot_us", "orjson_decode_us", "events", "pairs_per_event",
                         "snapshots"}
    assert cost["events"] == 200 and all(v >= 0 for v in cost.values())
