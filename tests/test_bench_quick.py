"""The benchmark harness, quick slice (as CI runs it): it must finish and report every metric for every system.

Runs `python -m bench.run --quick --out <tmp>` as a subprocess (about a minute on 2 cores).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.voice

ROOT = Path(__file__).resolve().parent.parent
SYSTEMS = ("ours", "vosk_free", "vosk_grammar", "pocketsphinx_jsgf")
METRIC_KEYS = (
    "intent_accuracy_clean", "intent_accuracy_20db", "intent_accuracy_10db", "intent_accuracy_5db",
    "intent_accuracy_all", "substitution_rate_all", "false_accept_rate",
    "red_flag_misses_without_policy", "red_flag_misses_with_policy", "red_flag_yes_clips",
    "decision_latency_median_ms", "decision_latency_p95_ms",
    "paced_decision_latency_median_ms", "paced_decision_latency_p95_ms",
    "response_onset_median_ms", "response_onset_p95_ms",
    "cpu_rtf", "model_load_s", "cold_start_first_word_s", "peak_memory_mb", "recognizer_peak_memory_mb",
)
PEER_KEYS = (
    "intent_accuracy_clean", "intent_accuracy_20db", "intent_accuracy_10db", "intent_accuracy_5db",
    "intent_accuracy_all", "false_accept_rate", "red_flag_misses_without_policy", "red_flag_misses_with_policy",
    "decision_latency_median_ms", "decision_latency_p95_ms", "cpu_rtf", "model_load_s", "recognizer_peak_memory_mb",
)
"""Metrics every peer must have a value for (the rest are ours only: replies, cold start, product memory)."""
TARGETS = ("intent_accuracy_clean", "intent_accuracy_10db", "intent_accuracy_10db_realbabble",
           "intent_accuracy_5db_realbabble", "intent_accuracy_10db_pink", "false_accept_rate",
           "red_flag_misses_with_policy",
           "response_onset_median_ms", "response_onset_p95_ms", "cold_start_first_word_s", "peak_memory_mb")


def _require_stack() -> None:
    problems = []
    try:
        from assistant.errors import ModelError
        from assistant.models.modelstore import resolve_model

        try:
            resolve_model()
        except ModelError as exc:
            problems.append(f"no usable Vosk model ({exc})")
    except ImportError as exc:
        problems.append(str(exc))
    for package in ("vosk", "pocketsphinx", "matplotlib", "pyttsx3", "numpy"):
        try:
            __import__(package)
        except ImportError:
            problems.append(f"python package {package} missing (scripts/setup --with-bench)")
    problems += [f"program {p} missing" for p in ("espeak-ng", "flite", "sox") if shutil.which(p) is None]
    if problems:
        message = "the benchmark needs the voice stack: " + "; ".join(problems)
        if os.environ.get("TINGLE_REQUIRE_MODEL") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    _require_stack()
    out = tmp_path_factory.mktemp("bench-quick")
    done = subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"bench.run --quick failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return json.loads((out / "latest.json").read_text(encoding="utf-8")), out


def test_every_system_reports_every_metric_key(results: tuple[dict, Path]) -> None:
    data, _ = results
    assert data["mode"] == "quick"
    assert set(data["systems"]) == set(SYSTEMS)
    for name in SYSTEMS:
        metrics = data["systems"][name]["metrics"]
        missing = [key for key in METRIC_KEYS if key not in metrics]
        assert not missing, f"{name} lacks {missing}"


def test_ours_has_a_value_for_every_metric(results: tuple[dict, Path]) -> None:
    data, _ = results
    empty = [key for key in METRIC_KEYS if data["systems"]["ours"]["metrics"][key] is None]
    assert not empty, f"ours has no value for {empty}"


def test_peers_have_values_and_ratios(results: tuple[dict, Path]) -> None:
    data, _ = results
    for name in SYSTEMS[1:]:
        empty = [key for key in PEER_KEYS if data["systems"][name]["metrics"][key] is None]
        assert not empty, f"{name} has no value for {empty}"
        assert set(PEER_KEYS) <= set(data["ratios"][name])


def test_targets_are_judged_and_outputs_written(results: tuple[dict, Path]) -> None:
    data, out = results
    judged = {row["metric"]: row["met"] for row in data["targets"]}
    assert set(judged) == set(TARGETS)
    assert all(isinstance(met, bool) for met in judged.values())
    for name in ("BENCHMARKS.md", "accuracy_vs_snr.png", "latency.png"):
        assert (out / name).stat().st_size > 0
    assert data["snr_definition"]
    assert data["environment"]["model"]["aar_sha256"]
    assert data["cold_start"]["failed_runs"] == 0
    assert data["paced"]["n"] > 0


def test_paced_turns_hear_their_own_clips(results: tuple[dict, Path]) -> None:
    # The real-time stream must hold exactly the turns' clips in their order: a clip left out of the turns but
    # kept in the stream shifts every later turn onto the wrong clip (and its latency onto the wrong end).
    paced = results[0]["paced"]
    assert paced["n"] > 0
    assert paced["agree_with_fast_pass"] >= paced["n"] - 1, paced["turns"]
