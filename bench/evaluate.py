"""Fast pass: every clip through every system, in worker processes with a fixed share and order of clips.

Each worker builds its clips (synthesis cached by bench.corpus), then runs ours and the peers on each clip
in the same order every run, so results are reproducible (see bench.systems on Kaldi's dither).
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

from bench.plan import Item, clip_audio

SYSTEMS = ("ours", "vosk_free", "vosk_grammar", "pocketsphinx_jsgf")
"""Every system, ours first (ratios are to ours)."""


def load_systems(model_dir: Path, grammars_dir: Path) -> list[Any]:
    """Ours and the peers, loaded."""
    from assistant.grammar import Grammars
    from bench.peers import PocketsphinxJsgf, VoskDefault
    from bench.systems import Ours

    grammars = Grammars.from_dir(grammars_dir)
    listeners = tuple(sorted(name for name in grammars.tables if name != "commands"))
    return [
        Ours(model_dir, grammars).load(),
        VoskDefault(model_dir, grammars, grammar=False).load(),
        VoskDefault(model_dir, grammars, grammar=True).load(),
        PocketsphinxJsgf(grammars, listeners).load(),
    ]


def run_share(args: tuple[list[Item], Path, Path, int]) -> list[dict[str, Any]]:
    """Worker: run every system on each clip of this share, in order. Returns one record per clip."""
    items, model_dir, grammars_dir, worker = args
    systems = load_systems(model_dir, grammars_dir)
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


def evaluate(items: list[Item], model_dir: Path, grammars_dir: Path, workers: int) -> dict[str, dict[str, Any]]:
    """Every clip through every system. Returns records by item id."""
    shares = [(items[k::workers], model_dir, grammars_dir, k) for k in range(workers)]
    if workers == 1:
        parts = [run_share(shares[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(run_share, shares, chunksize=1)
    return {record["id"]: record for part in parts for record in part}
