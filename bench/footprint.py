"""`python -m bench.footprint SYSTEM OUT.json CLIP.wav...`: one system alone in a fresh process.

Measures its model load time (import excluded, recognizers for both question grammars included) and then
recognizes the clips, so the parent can read the process's peak memory (ru_maxrss from wait4). It imports
no numpy (the clips are WAV files), so the peak is the system's own.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYSTEMS = ("ours", "vosk_free", "vosk_grammar", "pocketsphinx_jsgf", "whisper_tiny_en")


def main(argv: list[str]) -> int:
    name, out, clips = argv[0], Path(argv[1]), [Path(p) for p in argv[2:]]
    started = time.monotonic()
    from assistant.core.grammar import Grammars
    from assistant.models.modelstore import resolve_model
    from assistant.speech.audio import read_wav

    grammars = Grammars.from_dir(ROOT / "grammars")
    model_dir = resolve_model()
    listeners = ("answers", "spread")
    if name not in SYSTEMS:
        print(f"unknown system {name!r}; choose from {', '.join(SYSTEMS)}", file=sys.stderr)
        return 2
    first = {"pocketsphinx_jsgf": "pocketsphinx", "whisper_tiny_en": "faster_whisper"}.get(name, "vosk")
    importlib.import_module(first)  # not part of the load time
    if name == "ours":
        from bench.systems import Ours

        imported = time.monotonic()
        system = Ours(model_dir, grammars).load()
        for listener in listeners:
            system.recognizer.session(system.listener(listener))
    elif name in ("vosk_free", "vosk_grammar"):
        from bench.peers import VoskDefault

        imported = time.monotonic()
        system = VoskDefault(model_dir, grammars, grammar=name == "vosk_grammar").load()
        for listener in listeners:
            system.recognizer(listener)
    elif name == "whisper_tiny_en":
        from bench.peers import WhisperTinyEn

        imported = time.monotonic()
        system = WhisperTinyEn(grammars).load()
    else:
        from bench.peers import PocketsphinxJsgf

        imported = time.monotonic()
        system = PocketsphinxJsgf(grammars, listeners).load()
    loaded = time.monotonic()
    heard = [system.run("answers", read_wav(clip).data).text for clip in clips]
    out.write_text(json.dumps({"system": name, "import_s": imported - started, "model_load_s": loaded - imported,
                               "clips": len(clips), "heard": heard}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
