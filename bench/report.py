"""Writing the results: environment facts, `latest.json`, `BENCHMARKS.md` and the plots (PNG)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench.metrics import CONDITIONS
from bench.plan import LEAD_S, ROOT, SNR_DEFINITION, TAIL_S

SYSTEM_LABELS = {
    "ours": "ours (Vosk + grammar + phrase table + own endpointer)",
    "vosk_free": "Vosk free-form + phrase matcher",
    "vosk_grammar": "Vosk grammar, default endpointing",
    "pocketsphinx_jsgf": "pocketsphinx JSGF",
    "whisper_tiny_en": "Whisper tiny.en (faster-whisper int8, 1 thread) + Silero VAD segments + phrase spotting",
}


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return (done.stdout or done.stderr).strip()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    cpu, mem = "unknown", None
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        mem = round(kib * 1024 / 1e9, 1)
    except (OSError, StopIteration, ValueError):
        pass
    os_name = platform.platform()
    with contextlib.suppress(OSError, StopIteration):
        os_name = next(line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                       if line.startswith("PRETTY_NAME="))
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": mem, "os": os_name, "kernel": platform.release(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "vosk": _version("vosk"),
        "pocketsphinx": _version("pocketsphinx"),
        "pyttsx3": _version("pyttsx3"),
        "numpy": _version("numpy"),
        "matplotlib": _version("matplotlib"),
        "espeak-ng": _run(["espeak-ng", "--version"]).splitlines()[0] if _run(["espeak-ng", "--version"]) else "",
        "flite": next((line.strip() for line in _run(["flite", "--version"]).splitlines() if "version" in line),
                      "unknown"),
        "sox": _run(["sox", "--version"]),
    }


def _digest(paths: list[Path], base: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(base)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def model_facts(model_dir: Path) -> dict[str, Any]:
    from assistant.errors import ModelError
    from assistant.models.modelstore import AAR_SHA256, MANIFEST, MAVEN_COORDS, MODEL_NAME, verify_pinned

    try:
        verify_pinned(model_dir, deep=True)
        verified = "every file matches the pinned manifest (size and sha256)"
    except ModelError as exc:
        verified = f"NOT the pinned model: {exc}"
    manifest = json.dumps(sorted((k, v[0], v[1]) for k, v in MANIFEST.items())).encode()
    facts: dict[str, Any] = {
        "name": MODEL_NAME, "maven": MAVEN_COORDS, "aar_sha256": AAR_SHA256,
        "dir": os.path.relpath(model_dir, ROOT) if model_dir.is_relative_to(ROOT) else str(model_dir),
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(), "verified": verified,
        "files": {k: {"bytes": v[0], "sha256": v[1]} for k, v in MANIFEST.items()},
    }
    try:
        import pocketsphinx

        base = Path(pocketsphinx.get_model_path()) / "en-us"
        files = [p for p in base.rglob("*") if p.is_file()]
        facts["pocketsphinx_model"] = {"dir": str(base), "files": len(files), "sha256_of_files": _digest(files, base)}
    except ImportError:
        facts["pocketsphinx_model"] = None
    return facts


def git_state() -> dict[str, Any]:
    head = _run(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    dirty = _run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "assistant", "grammars", "content", "bench"])
    sources = [p for folder in ("assistant", "grammars", "content") for p in (ROOT / folder).rglob("*")
               if p.is_file() and p.suffix in (".py", ".yaml")]
    return {"commit": head, "uncommitted_changes": bool(dirty.strip()), "sources_sha256": _digest(sources, ROOT)}


# ----------------------------------------------------------------------------------------------- formatting
def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def num(value: float | None, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{unit}"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


METRIC_ROWS = (
    ("intent_accuracy_clean", "intent accuracy, clean", "pct"),
    ("intent_accuracy_20db", "intent accuracy, 20 dB", "pct"),
    ("intent_accuracy_10db", "intent accuracy, 10 dB", "pct"),
    ("intent_accuracy_10db_realbabble", "intent accuracy, 10 dB real babble", "pct"),
    ("intent_accuracy_5db_realbabble", "intent accuracy, 5 dB real babble", "pct"),
    ("intent_accuracy_10db_tv", "intent accuracy, 10 dB TV-like", "pct"),
    ("intent_accuracy_10db_pink", "intent accuracy, 10 dB pink", "pct"),
    ("intent_accuracy_5db", "intent accuracy, 5 dB", "pct"),
    ("intent_accuracy_all", "intent accuracy, all conditions", "pct"),
    ("substitution_rate_all", "wrong intent (substitution), all", "pct"),
    ("false_accept_rate", "false accepts on distractors", "pct"),
    ("red_flag_misses_without_policy", "red-flag misses, without confirmation", "int"),
    ("red_flag_misses_with_policy", "red-flag misses, with confirmation", "int"),
    ("decision_latency_median_ms", "decision latency, median (ms, fast pass)", "ms"),
    ("decision_latency_p95_ms", "decision latency, p95 (ms, fast pass)", "ms"),
    ("paced_decision_latency_median_ms", "decision latency, median (ms, real time)", "ms"),
    ("paced_decision_latency_p95_ms", "decision latency, p95 (ms, real time)", "ms"),
    ("response_onset_median_ms", "response onset, median (ms, real time)", "ms"),
    ("response_onset_p95_ms", "response onset, p95 (ms, real time)", "ms"),
    ("cpu_rtf", "recognition CPU real-time factor", "rtf"),
    ("model_load_s", "model load (s, fresh process)", "s"),
    ("cold_start_first_word_s", "cold start to first spoken word (s)", "s"),
    ("peak_memory_mb", "peak memory, whole product session (MB)", "mb"),
    ("recognizer_peak_memory_mb", "peak memory, recognizer alone (MB)", "mb"),
)


def _fmt(kind: str, value: Any) -> str:
    if kind == "pct":
        return pct(value, 2)
    if kind == "int":
        return num(value)
    if kind == "ms":
        return num(value, 0)
    if kind == "rtf":
        return num(value, 4)
    if kind == "s":
        return num(value, 2)
    return num(value, 0)


def markdown(results: dict[str, Any]) -> str:
    systems = results["systems"]
    names = list(systems)
    ours = systems["ours"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `python -m bench.run{' --quick' if results['mode'] == 'quick' else ''}` on "
        f"{results['finished_utc']} ({results['mode']} run, {results['runtime_s'] / 60:.1f} min wall clock). "
        "Do not edit by hand: run the command again.",
        "",
    ]
    if results["mode"] == "quick":
        lines += ["**Quick slice**: a small sample for CI; the numbers are not representative.", ""]
    if results.get("fast_pass_reused"):
        lines += ["**Development run**: the fast pass was reused from an earlier run (`--reuse-clips`); its run "
                  "time and CPU figures do not describe this run.", ""]
    if results.get("errors"):
        lines += ["**Failed phases** (their numbers are missing; details in latest.json `errors`): "
                  + ", ".join(results["errors"]) + ".", ""]
    lines += ["## Targets (ours)", ""]
    rows = []
    for row in results["targets"]:
        kind = next(k for key, _, k in METRIC_ROWS if key == row["metric"])
        met = "–" if row["met"] is None else ("**met**" if row["met"] else "**not met**")
        op, limit = row["target"].split()
        shown = pct(float(limit), 1) if kind == "pct" else limit
        rows.append([row["label"], f"{'≥' if op == '>=' else '≤'} {shown}", _fmt(kind, row["value"]), met])
    run_target = results.get("runtime_target")
    if run_target:
        rows.append(["full run wall clock (min)", "≤ 15", f"{results['runtime_s'] / 60:.1f}",
                     "**met**" if run_target["met"] else "**not met**"])
    lines += _table(["target", "required", "measured", ""], rows)
    lines += ["## All systems", "", "Same clips, same run. Peers have no cold start, reply or confirmation policy "
              "of their own (–).", ""]
    lines += _table(["metric", *names],
                    [[label, *(_fmt(kind, systems[n]["metrics"][key]) for n in names)] for key, label, kind in
                     METRIC_ROWS])
    lines += ["System key: " + "; ".join(f"`{n}` = {SYSTEM_LABELS[n]}" for n in names) + ".", ""]
    lines += ["## Ratios to ours", "", "Peer value ÷ our value (accuracy: above 1× is better than ours; "
              "errors, latency, CPU, load time and memory: above 1× is worse than ours; – where ours is 0).", ""]
    peers = [n for n in names if n != "ours"]
    ratio_rows = []
    for key, label, _kind in METRIC_ROWS:
        if key in results["ratios"][peers[0]]:
            ratio_rows.append([label, *(ratio(results["ratios"][p][key]) for p in peers)])
    lines += _table(["metric", *peers], ratio_rows)

    lines += ["## Intent accuracy by SNR and noise", "", "![accuracy vs SNR](" + results["plots"]["accuracy"] + ")",
              ""]
    keys = ["clean"] + [f"{c} {noise}" for c in CONDITIONS[1:] for noise in ("babble", "realbabble", "tv", "pink")]
    keys = [k for k in keys if any(k in systems[n]["fast"]["accuracy"]["by_condition_and_noise"] for n in names)]
    rows = []
    for key in keys:
        cells = [systems[n]["fast"]["accuracy"]["by_condition_and_noise"].get(key) for n in names]
        count = next((c["n"] for c in cells if c), 0)
        rows.append([key, str(count), *(pct(c["accuracy"]) if c else "–" for c in cells)])
    lines += _table(["condition", "clips", *names], rows)
    rows = []
    for key in CONDITIONS:
        cell = ours["fast"]["accuracy"]["by_condition"].get(key)
        if cell:
            rows.append([key, str(cell["n"]), pct(cell["accuracy"]), pct(cell["substitution_rate"]),
                         pct(cell["rejection_rate"])])
    lines += ["Ours, split into wrong intents (substitutions: the dangerous kind) and rejections (nothing "
              "accepted: the dialogue asks again):", ""]
    lines += _table(["condition", "clips", "correct", "wrong intent", "nothing accepted"], rows)

    lines += ["## Red-flag \"yes\" answers", "",
              "Every \"yes\" phrase of the answers grammar, all voices and conditions. A miss is \"yes\" taken as "
              "\"no\" or as nothing. With the confirmation policy a \"no\" flagged uncertain is asked again, so it "
              "is not a miss.", ""]
    rows = []
    for n in names:
        rf = systems[n]["fast"]["red_flag"]
        rows.append([n, str(rf["yes_clips"]), str(rf["taken_as_no"]), str(rf["taken_as_no_flagged_uncertain"]),
                     str(rf["taken_as_nothing"]), str(rf["taken_as_other_intent"]), str(rf["misses_without_policy"]),
                     str(rf["misses_with_policy"])])
    lines += _table(["system", "yes clips", "as no", "of which flagged", "as nothing", "as another intent",
                     "misses without policy", "misses with policy"], rows)

    lines += ["## Distractors", ""]
    kinds = sorted(ours["fast"]["false_accepts"]["by_kind"])
    rows = [[k, str(ours["fast"]["false_accepts"]["by_kind"][k]["n"]),
             *(str(systems[n]["fast"]["false_accepts"]["by_kind"][k]["false_accepts"]) for n in names)] for k in kinds]
    lines += _table(["kind", "clips", *(f"{n} accepts" for n in names)], rows)
    examples = ours["fast"]["false_accepts"]["examples"]
    if examples:
        lines += ["Our false accepts: " + "; ".join(f"`{e['id']}` → {e['intent']} ({e['text']!r})"
                                                   for e in examples) + ".", ""]

    lines += ["## Latency", "", "![latency](" + results["plots"]["latency"] + ")", ""]
    paced = results["paced"]
    lines += [f"Real-time paced turns ({paced['n']} clips through the product's FileSource, VoiceChannel, Dialogue "
              f"and Speaker; {paced['agree_with_fast_pass']} of {paced['n']} heard as in the fast pass; "
              f"{paced['unprepared_replies']} replies were not in the prepared cache). Milliseconds from the true "
              "end of speech (and, in brackets, from the delivery of the 40 ms chunk that holds it):", ""]
    rows = []
    for key, label in (("decision_ms", "decision"), ("onset_ms", "first sample of the reply")):
        for suffix, scope in (("", "all"), ("_clean", "clean only")):
            a, b = paced[key + suffix], paced[key.replace("_ms", "_from_chunk_ms") + suffix]
            rows.append([label, scope, str(a["n"]), f"{num(a['median_ms'])} ({num(b['median_ms'])})",
                         f"{num(a['p95_ms'])} ({num(b['p95_ms'])})", num(a["max_ms"])])
    lines += _table(["", "clips", "n", "median", "p95", "max"], rows)
    overhead = paced["reply_overhead_ms"]
    lines += [f"From decision to the reply's first sample (dialogue, transcript, speaker): median "
              f"{num(overhead['median_ms'], 1)} ms, p95 {num(overhead['p95_ms'], 1)} ms, max "
              f"{num(overhead['max_ms'], 1)} ms.", ""]
    lines += ["Fast pass, decision latency by condition: median / p95 in ms; in brackets, clips decided before "
              "the true end of speech (the answer was cut short) and clips decided only at or after the end of "
              f"the clip's {TAIL_S:g} s tail (peers: no endpoint fired, the clip's end closed the turn; ours: "
              "decided in the digital silence that follows the clip):", ""]
    rows = []
    for cond in CONDITIONS:
        cells = []
        for n in names:
            fast = systems[n]["fast"]
            lat = fast["decision_latency"].get(cond)
            early = fast["decided_before_true_end"].get(cond, 0)
            late = fast["decided_after_clip_end"].get(cond, 0)
            cells.append(f"{num(lat['median_ms'])} / {num(lat['p95_ms'])} ({early} early, {late} late)"
                         if lat and lat["n"] else "–")
        rows.append([cond, *cells])
    lines += _table(["condition", *names], rows)
    lines += ["Our end-of-speech rules, in-grammar clips: " + ", ".join(
        f"{k} {v}" for k, v in ours["fast"]["end_rules"].items()) + ".", ""]

    cold = results["cold_start"]
    lines += ["## Cold start and memory", "",
              f"`python -m assistant --audio-in <{results['cold_start_turns']} answers> --fast --audio-out … "
              "--transcript …` in a fresh process, observed by `bench.product_timer`: first spoken word = spawn to "
              "the first sample handed to the output; peak memory = the process's ru_maxrss over the whole "
              f"session. {cold['measured_runs']} measured runs after a warm-up, {cold['failed_runs']} failed.", ""]
    rows = [["first spoken word, median (s)", num(cold["first_word_s_median"], 3)],
            ["first spoken word, worst (s)", num(cold["first_word_s_max"], 3)],
            ["first samples on disk, median (s; includes resampling and writing the WAV)",
             num(cold["first_written_s_median"], 3)],
            ["quiet at the start of the first audio (s)", num(cold["leading_quiet_s"], 3)],
            ["peak memory, worst run (MB)", num(cold["peak_memory_mb_max"], 1)]]
    lines += _table(["", "ours"], rows)
    rows = [[n, num(results["footprints"][n].get("model_load_s"), 3), num(results["footprints"][n].get("import_s"), 3),
             num(results["footprints"][n].get("peak_memory_mb"), 1)] for n in names]
    lines += ["Each recognizer alone in a fresh process (model load excludes the Python import; peak memory while "
              "recognizing a few clips):", ""]
    lines += _table(["system", "model load (s)", "import (s)", "peak memory (MB)"], rows)

    lines += ["## Where ours goes wrong", "", "Most frequent errors (phrase → intent taken, text heard):", ""]
    lines += _table(["phrase", "taken as", "heard", "clips"],
                    [[c["phrase"], c["got"], c["heard"] or "(nothing)", str(c["count"])]
                     for c in ours["fast"]["confusions"]])
    for title, key in (("voice", "by_voice"), ("phrase grammar", "by_grammar"), ("speed", "by_speed")):
        groups = ours["fast"]["accuracy"][key]
        lines += [f"Ours by {title} (all conditions):", ""]
        lines += _table([title, "clips", "accuracy", "wrong intent"],
                        [[g, str(v["n"]), pct(v["accuracy"]), pct(v["substitution_rate"])] for g, v in groups.items()])

    corpus_facts = results["corpus"]
    distractors = ", ".join(f"{v} {k}" for k, v in corpus_facts["distractors"].items())
    lines += ["## Evaluation set", "",
              f"{corpus_facts['phrase_clips']} in-grammar clips ({corpus_facts['phrases']} phrases, each spoken by "
              f"{corpus_facts['voices_per_phrase']} of the {corpus_facts['voices']} voices in rotation; speeds "
              "0.9/1.0/1.1 rotating with phrase and voice; clean and 10 dB for every (phrase, voice), plus 20 dB or "
              "5 dB for a quarter each; babble and pink noise half each) and "
              f"{corpus_facts['distractor_clips']} distractors ({distractors}). "
              f"Each clip: {LEAD_S:g} s lead, the speech, {TAIL_S:g} s tail; noise covers the whole clip; after it "
              "every system hears digital silence. Voices: " + ", ".join(corpus_facts["voice_labels"]) + ".", "",
              "Phrases a grammar marks `typed_only` (understood when typed, kept out of the recognizer's grammar) "
              "are not spoken: " + (", ".join(corpus_facts.get("typed_only_phrases_not_spoken") or []) or "none")
              + ".", "",
              f"**SNR definition.** {SNR_DEFINITION}", "",
              "Commands are heard with the answers listener; spread phrases with the spread listener; distractors "
              "alternate between the two. Every clip is heard as a session's first turn (the recognizer is reset "
              "between clips). Peers: see `bench/peers.py`.", ""]

    env = results["environment"]
    mach = env["machine"]
    lines += ["## Machine, versions, model", ""]
    lines += _table(["", ""], [
        ["CPU", f"{mach['cpu']}, {mach['cores']} cores"], ["RAM", f"{mach['ram_gb']} GB"],
        ["OS", f"{mach['os']} (kernel {mach['kernel']})"],
        ["load average at start / end", f"{mach['load_average_at_start']} / {mach.get('load_average_at_end')}"],
        *[[k, f"`{v}`"] for k, v in env["versions"].items()],
        ["Vosk model", f"{env['model']['name']} ({env['model']['maven']})"],
        ["model AAR sha256", f"`{env['model']['aar_sha256']}`"],
        ["model manifest sha256", f"`{env['model']['manifest_sha256']}` ({env['model']['verified']})"],
        ["pocketsphinx model", f"`{(env['model'].get('pocketsphinx_model') or {}).get('sha256_of_files')}`"],
        ["repository", f"`{env['git']['commit']}`" + (" + uncommitted changes" if env["git"]["uncommitted_changes"]
                                                      else "")],
        ["assistant/, grammars/, content/ sha256", f"`{env['git']['sources_sha256']}`"],
    ])
    return "\n".join(lines).rstrip() + "\n"


def plots(results: dict[str, Any], latencies: dict[str, list[float]], out_dir: Path) -> dict[str, str]:
    """accuracy_vs_snr.png and latency.png. Returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = results["systems"]
    names = list(systems)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    labels = list(CONDITIONS)
    for ax, noise in zip(axes, ("babble", "pink"), strict=True):
        for n in names:
            groups = systems[n]["fast"]["accuracy"]["by_condition_and_noise"]
            keys = ["clean"] + [f"{c} {noise}" for c in CONDITIONS[1:]]
            values = [100 * groups[k]["accuracy"] if k in groups and groups[k]["accuracy"] is not None else None
                      for k in keys]
            ax.plot(labels, [v if v is not None else float("nan") for v in values], marker="o", label=n)
        ax.axhline(99.5, color="grey", linestyle=":", linewidth=1)
        ax.axhline(98.0, color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{noise} noise")
        ax.set_xlabel("SNR")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("intent accuracy (%)")
    axes[0].set_ylim(0, 101)
    axes[1].legend(loc="lower left", fontsize=8)
    fig.suptitle("Intent accuracy vs SNR (targets: 99.5 % clean, 98 % at 10 dB)")
    fig.tight_layout()
    fig.savefig(out_dir / "accuracy_vs_snr.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for n in names:
        values = sorted(latencies[n])
        if values:
            share = [100 * (k + 1) / len(values) for k in range(len(values))]
            p95 = systems[n]["metrics"]["decision_latency_p95_ms"]
            axes[0].step(values, share, where="post", label=f"{n} (p95 {p95:,.0f} ms)")
    axes[0].set_xlim(-300, 2500)
    axes[0].axvline(250, color="grey", linestyle="--", linewidth=1)
    axes[0].axvline(400, color="grey", linestyle=":", linewidth=1)
    axes[0].set_xlabel("ms from true end of speech (axis cut at 2.5 s)")
    axes[0].set_ylabel("% of in-grammar clips decided")
    axes[0].set_title("Decision latency, fast pass, all conditions")
    axes[0].legend(fontsize=8, loc="lower right")
    axes[0].grid(alpha=0.3)
    turns = results["paced"].get("turns", [])
    decision = [t["decision_ms"] for t in turns]
    onset = [t["onset_ms"] for t in turns if t["onset_ms"] is not None]
    cut = 2000.0
    if decision:
        bins = [x * 25.0 for x in range(int(cut // 25) + 1)]
        axes[1].hist([min(v, cut - 1) for v in decision], bins=bins, alpha=0.6, label="decision")
        axes[1].hist([min(v, cut - 1) for v in onset], bins=bins, alpha=0.6, label="reply's first sample")
    axes[1].axvline(250, color="grey", linestyle="--", linewidth=1, label="median target 250 ms")
    axes[1].axvline(400, color="grey", linestyle=":", linewidth=1, label="p95 target 400 ms")
    beyond = sum(v >= cut for v in onset)
    axes[1].set_xlabel(f"ms from true end of speech (last bin: {cut:,.0f} ms or more, {beyond} turns)")
    axes[1].set_ylabel("turns")
    axes[1].set_title(f"Ours in real time ({len(decision)} paced turns)")
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=110)
    plt.close(fig)
    return {"accuracy": "accuracy_vs_snr.png", "latency": "latency.png"}
