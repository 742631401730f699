"""From raw per-clip outcomes to the reported metrics, targets and ratios. Pure: no audio, no recognizers.

Definitions:

* intent accuracy: in-grammar clips whose intent is exactly the expected one (no answer counts as wrong);
* substitution: a wrong intent (not "nothing"); rejection: nothing accepted;
* false accept: a distractor clip that produced any intent;
* red-flag miss: a "yes" phrase of the answers grammar taken as "no" or as nothing. With the confirmation
  policy, a "no" flagged uncertain is not a miss (the dialogue asks to confirm it); peers have no such
  flag, so for them both counts are equal;
* decision latency (fast pass): audio time at the end of the deciding chunk - true end of speech + wall time
  to process that chunk and produce the final result;
* response onset (paced, ours): true end of speech to the first sample of the spoken reply;
* CPU real-time factor: process CPU time in recognition / seconds of audio fed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from bench.plan import Item

CONDITIONS = ("clean", "20 dB", "10 dB", "5 dB")
METRIC_KEYS = (
    "intent_accuracy_clean", "intent_accuracy_20db", "intent_accuracy_10db", "intent_accuracy_5db",
    "intent_accuracy_all", "substitution_rate_all", "false_accept_rate",
    "intent_accuracy_10db_realbabble", "intent_accuracy_5db_realbabble", "intent_accuracy_10db_tv",
    "intent_accuracy_10db_pink",
    "red_flag_misses_without_policy", "red_flag_misses_with_policy", "red_flag_yes_clips",
    "decision_latency_median_ms", "decision_latency_p95_ms",
    "paced_decision_latency_median_ms", "paced_decision_latency_p95_ms",
    "response_onset_median_ms", "response_onset_p95_ms",
    "cpu_rtf", "model_load_s", "cold_start_first_word_s", "peak_memory_mb", "recognizer_peak_memory_mb",
)
"""Every system reports every key (null where it does not apply, e.g. cold start for a peer)."""
TARGETS = (
    ("intent_accuracy_clean", ">=", 0.995, "intent accuracy, clean"),
    ("intent_accuracy_10db", ">=", 0.98, "intent accuracy, 10 dB SNR"),
    ("intent_accuracy_10db_realbabble", ">=", 0.90, "intent accuracy, real voices' babble at 10 dB"),
    ("intent_accuracy_5db_realbabble", ">=", 0.75, "intent accuracy, real voices' babble at 5 dB"),
    ("intent_accuracy_10db_pink", ">=", 0.98, "intent accuracy, pink noise at 10 dB"),
    ("false_accept_rate", "<=", 0.01, "false accepts on distractors"),
    ("red_flag_misses_with_policy", "<=", 0, "red-flag misses with the confirmation policy"),
    ("response_onset_median_ms", "<=", 250.0, "response onset, median (ms)"),
    ("response_onset_p95_ms", "<=", 400.0, "response onset, p95 (ms)"),
    ("cold_start_first_word_s", "<=", 1.5, "cold start to first spoken word (s)"),
    ("peak_memory_mb", "<=", 250.0, "peak memory (MB)"),
)
RATIO_KEYS = (
    "intent_accuracy_clean", "intent_accuracy_20db", "intent_accuracy_10db", "intent_accuracy_5db",
    "intent_accuracy_all", "intent_accuracy_10db_realbabble", "intent_accuracy_5db_realbabble",
    "intent_accuracy_10db_tv", "false_accept_rate", "red_flag_misses_without_policy", "red_flag_misses_with_policy",
    "decision_latency_median_ms", "decision_latency_p95_ms", "cpu_rtf", "model_load_s", "recognizer_peak_memory_mb",
)
CONDITION_KEYS = {"clean": "clean", "20 dB": "20db", "10 dB": "10db", "5 dB": "5db"}


def rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def percentile(values: Iterable[float], q: float) -> float | None:
    data = list(values)
    return float(np.percentile(data, q)) if data else None


def _grouped(rows: list[tuple[Item, dict[str, Any]]], key: Callable[[Item], str]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[tuple[Item, dict[str, Any]]]] = defaultdict(list)
    for item, outcome in rows:
        groups[key(item)].append((item, outcome))
    return {name: _accuracy(group) for name, group in sorted(groups.items())}


def _accuracy(rows: list[tuple[Item, dict[str, Any]]]) -> dict[str, Any]:
    total = len(rows)
    correct = sum(o["intent"] == i.expected for i, o in rows)
    wrong = sum(o["intent"] is not None and o["intent"] != i.expected for i, o in rows)
    nothing = sum(o["intent"] is None for _, o in rows)
    return {"n": total, "correct": correct, "accuracy": rate(correct, total), "substitutions": wrong,
            "substitution_rate": rate(wrong, total), "rejections": nothing, "rejection_rate": rate(nothing, total)}


def _latency(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "median_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
            "mean_ms": float(np.mean(values)) if values else None, "max_ms": max(values) if values else None}


def red_flag(rows: list[tuple[Item, dict[str, Any]]]) -> dict[str, Any]:
    """Yes-phrases of the answers grammar: how many were taken as no (confident or flagged) or as nothing."""
    yes = [(i, o) for i, o in rows if i.source == "answers" and i.expected == "yes"]
    as_no = [(i, o) for i, o in yes if o["intent"] == "no"]
    flagged = sum(bool(o.get("uncertain")) for _, o in as_no)
    nothing = sum(o["intent"] is None for _, o in yes)
    other = sum(o["intent"] not in (None, "yes", "no") for _, o in yes)
    return {"yes_clips": len(yes), "taken_as_no": len(as_no), "taken_as_no_flagged_uncertain": flagged,
            "taken_as_nothing": nothing, "taken_as_other_intent": other,
            "misses_without_policy": len(as_no) + nothing, "misses_with_policy": len(as_no) - flagged + nothing,
            "examples": [{"id": i.id, "intent": o["intent"], "text": o["text"], "uncertain": o.get("uncertain")}
                         for i, o in as_no][:20]}


def decision_latencies(name: str, items: list[Item], records: dict[str, dict[str, Any]]) -> dict[str, list[float]]:
    """Fast-pass decision latency (ms) of every in-grammar clip, by condition and under "all"."""
    out: dict[str, list[float]] = defaultdict(list)
    for item in items:
        if item.kind == "phrase":
            record = records[item.id]
            outcome = record["systems"][name]
            value = 1000 * (outcome["decided_audio_s"] - record["true_end_s"] + outcome["processing_s"])
            out["all"].append(value)
            out[item.condition].append(value)
    return out


def system_metrics(name: str, items: list[Item], records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every fast-pass number of one system."""
    rows = [(item, records[item.id]["systems"][name]) for item in items]
    phrases = [(i, o) for i, o in rows if i.kind == "phrase"]
    distractors = [(i, o) for i, o in rows if i.kind != "phrase"]
    by_condition = _grouped(phrases, lambda i: i.condition)
    latencies = decision_latencies(name, items, records)
    after_clip: dict[str, int] = defaultdict(int)
    early: dict[str, int] = defaultdict(int)
    for item, outcome in phrases:
        if outcome["decided_audio_s"] >= records[item.id]["clip_s"] - 1e-3:
            after_clip[item.condition] += 1
        if outcome["decided_audio_s"] < records[item.id]["true_end_s"]:
            early[item.condition] += 1
    false_accepts = [(i, o) for i, o in distractors if o["intent"] is not None]
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "false_accepts": 0})
    for item, outcome in distractors:
        by_kind[item.kind]["n"] += 1
        by_kind[item.kind]["false_accepts"] += outcome["intent"] is not None
    cpu = sum(o["cpu_s"] for _, o in rows)
    audio = sum(o["audio_s"] for _, o in rows)
    rules: dict[str, int] = defaultdict(int)
    for _, outcome in phrases:
        rules[outcome["rule"]] += 1
    return {
        "accuracy": {"all": _accuracy(phrases), "by_condition": by_condition,
                     "by_condition_and_noise": _grouped(phrases, lambda i: f"{i.condition} {i.noise or ''}".strip()),
                     "by_grammar": _grouped(phrases, lambda i: i.source),
                     "by_voice": _grouped(phrases, lambda i: i.voice),
                     "by_speed": _grouped(phrases, lambda i: f"{i.speed:g}")},
        "false_accepts": {"n": len(distractors), "count": len(false_accepts), "rate": rate(len(false_accepts),
                                                                                          len(distractors)),
                          "by_kind": dict(sorted(by_kind.items())),
                          "examples": [{"id": i.id, "intent": o["intent"], "text": o["text"]}
                                       for i, o in false_accepts][:30]},
        "red_flag": red_flag(phrases),
        "decision_latency": {key: _latency(values) for key, values in sorted(latencies.items())},
        "decided_after_clip_end": {c: after_clip[c] for c in CONDITIONS},
        "decided_before_true_end": {c: early[c] for c in CONDITIONS},
        "end_rules": dict(sorted(rules.items())),
        "cpu": {"cpu_s": cpu, "audio_s": audio, "rtf": cpu / audio if audio else None},
        "confusions": _confusions(phrases),
    }


def _confusions(phrases: list[tuple[Item, dict[str, Any]]], top: int = 15) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for item, outcome in phrases:
        if outcome["intent"] != item.expected:
            got = outcome["intent"] or "(nothing)"
            counts[(item.text, got, outcome["text"] or "")] += 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"phrase": p, "got": g, "heard": h, "count": c} for (p, g, h), c in ordered[:top]]


def paced_summary(paced: dict[str, Any] | None, records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Paced turns: decision and response onset, all and clean only; agreement with the fast pass."""
    turns = (paced or {}).get("turns", [])
    out: dict[str, Any] = {"n": len(turns), "prepare_s": (paced or {}).get("prepare_s")}
    for key in ("decision_ms", "onset_ms", "decision_from_chunk_ms", "onset_from_chunk_ms"):
        values = [t[key] for t in turns if t[key] is not None]
        out[key] = _latency(values)
        clean = [t[key] for t in turns if t[key] is not None and t["condition"] == "clean"]
        out[f"{key}_clean"] = _latency(clean)
    out["reply_overhead_ms"] = _latency([t["onset_ms"] - t["decision_ms"] for t in turns if t["onset_ms"] is not None])
    out["agree_with_fast_pass"] = sum(t["intent"] == records[t["id"]]["systems"]["ours"]["intent"] for t in turns)
    out["unprepared_replies"] = sum(not t["reply_prepared"] for t in turns)
    return out


def cold_summary(cold: dict[str, Any] | None) -> dict[str, Any]:
    runs = [r for r in (cold or {}).get("runs", []) if not r["warmup"]]
    firsts = [r["first_word_s"] for r in runs if r["first_word_s"] is not None]
    return {"measured_runs": len(runs), "failed_runs": sum(r["exit_code"] != 0 for r in runs),
            "first_word_s_median": percentile(firsts, 50), "first_word_s_max": max(firsts) if firsts else None,
            "first_written_s_median": percentile([r["first_written_s"] for r in runs
                                                  if r["first_written_s"] is not None], 50),
            "leading_quiet_s": runs[0]["leading_quiet_s"] if runs else None,
            "peak_memory_mb_max": max((r["peak_memory_mb"] for r in runs), default=None)}


def headline(name: str, fast: dict[str, Any], footprint: dict[str, Any] | None, paced: dict[str, Any] | None,
             cold: dict[str, Any] | None) -> dict[str, Any]:
    """The flat metric set of one system (every key of METRIC_KEYS)."""
    by_condition = fast["accuracy"]["by_condition"]
    metrics: dict[str, Any] = {f"intent_accuracy_{CONDITION_KEYS[c]}": by_condition.get(c, {}).get("accuracy")
                               for c in CONDITIONS}
    by_noise = fast["accuracy"]["by_condition_and_noise"]
    metrics.update({f"intent_accuracy_{CONDITION_KEYS[c]}_{noise}": by_noise.get(f"{c} {noise}", {}).get("accuracy")
                    for c, noise in (("10 dB", "realbabble"), ("5 dB", "realbabble"), ("10 dB", "tv"),
                                     ("10 dB", "pink"))})
    latency = fast["decision_latency"].get("all", {})
    metrics.update({
        "intent_accuracy_all": fast["accuracy"]["all"]["accuracy"],
        "substitution_rate_all": fast["accuracy"]["all"]["substitution_rate"],
        "false_accept_rate": fast["false_accepts"]["rate"],
        "red_flag_misses_without_policy": fast["red_flag"]["misses_without_policy"],
        "red_flag_misses_with_policy": fast["red_flag"]["misses_with_policy"],
        "red_flag_yes_clips": fast["red_flag"]["yes_clips"],
        "decision_latency_median_ms": latency.get("median_ms"),
        "decision_latency_p95_ms": latency.get("p95_ms"),
        "cpu_rtf": fast["cpu"]["rtf"],
        "model_load_s": (footprint or {}).get("model_load_s"),
        "recognizer_peak_memory_mb": (footprint or {}).get("peak_memory_mb"),
        "paced_decision_latency_median_ms": None, "paced_decision_latency_p95_ms": None,
        "response_onset_median_ms": None, "response_onset_p95_ms": None,
        "cold_start_first_word_s": None, "peak_memory_mb": None,
    })
    if name == "ours":
        if paced is not None:
            metrics.update({"paced_decision_latency_median_ms": paced["decision_ms"]["median_ms"],
                            "paced_decision_latency_p95_ms": paced["decision_ms"]["p95_ms"],
                            "response_onset_median_ms": paced["onset_ms"]["median_ms"],
                            "response_onset_p95_ms": paced["onset_ms"]["p95_ms"]})
        if cold is not None:
            metrics.update({"cold_start_first_word_s": cold["first_word_s_median"],
                            "peak_memory_mb": cold["peak_memory_mb_max"]})
    missing = set(METRIC_KEYS) - set(metrics)
    if missing:
        raise AssertionError(f"metrics not computed: {sorted(missing)}")
    return {key: metrics[key] for key in METRIC_KEYS}


def targets(ours: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, op, limit, label in TARGETS:
        value = ours.get(key)
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        rows.append({"metric": key, "label": label, "target": f"{op} {limit:g}", "value": value, "met": met})
    return rows


def ratios(systems: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Each peer's metric divided by ours (None when ours is 0 or either is missing)."""
    ours = systems["ours"]
    out: dict[str, dict[str, float | None]] = {}
    for name, metrics in systems.items():
        if name == "ours":
            continue
        out[name] = {}
        for key in RATIO_KEYS:
            a, b = metrics.get(key), ours.get(key)
            out[name][key] = None if a is None or b is None or b == 0 else a / b
    return out
