"""Tests for assistant.models.vocabulary: reading a Vosk model's word list from hand-built OpenFst headers."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from assistant.errors import ModelError
from assistant.models import vocabulary
from assistant.models.vocabulary import load_vocabulary

FST_MAGIC = 2125659606
TABLE_MAGIC = 2125658996
ACCEPTOR = 0x10000

# A complete tiny Gr.fst header, written out byte by byte (little-endian), independent of the
# helpers below: an acceptor "ngram" FST with an input symbol table only.
TINY_GR_FST = bytes.fromhex(
    "d6fdb27e"  # int32 magic 2125659606
    "05000000" "6e6772616d"  # string "ngram"
    "08000000" "7374616e64617264"  # string "standard"
    "04000000"  # int32 version 4
    "01000000"  # int32 flags: has input symbols
    "0100010000000000"  # uint64 properties: expanded | acceptor
    "0100000000000000"  # int64 start state 1
    "0300000000000000"  # int64 num states 3
    "0000000000000000"  # int64 num arcs 0
    "74fbb27e"  # int32 symbol table magic 2125658996
    "05000000" "7465737473"  # string name "tests"
    "0500000000000000"  # int64 available key 5
    "0500000000000000"  # int64 size 5
    "05000000" "3c6570733e" "0000000000000000"  # "<eps>" 0
    "03000000" "796573" "0100000000000000"  # "yes" 1
    "02000000" "6e6f" "0200000000000000"  # "no" 2
    "05000000" "5b756e6b5d" "0300000000000000"  # "[unk]" 3
    "02000000" "2330" "0400000000000000"  # "#0" 4
) + b"\x00" * 16  # stand-in for the arcs that follow in a real file


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<i", len(raw)) + raw


def _table(symbols: list[str], name: str = "words.txt") -> bytes:
    body = b"".join(_string(s) + struct.pack("<q", key) for key, s in enumerate(symbols))
    head = struct.pack("<i", TABLE_MAGIC) + _string(name) + struct.pack("<qq", len(symbols), len(symbols))
    return head + body


def _fst(
    isyms: list[str] | None, osyms: list[str] | None, *, props: int = ACCEPTOR, kind: str = "const"
) -> bytes:
    flags = (1 if isyms is not None else 0) | (2 if osyms is not None else 0)
    header = struct.pack("<i", FST_MAGIC) + _string(kind) + _string("standard")
    header += struct.pack("<iiQqqq", 2, flags, props, 0, 10, 20)
    tables = b"".join(_table(s) for s in (isyms, osyms) if s is not None)
    return header + tables + b"\xab" * 64  # some "arcs"


def _model(tmp_path: Path, files: dict[str, bytes]) -> Path:
    graph = tmp_path / "graph"
    graph.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (graph / name).write_bytes(data)
    return tmp_path


SYMBOLS = ["<eps>", "!SIL", "'s", "ambulance", "don't", "emergency", "yes", "[unk]", "#0", "#1", "<s>"]
WORDS = {"'s", "ambulance", "don't", "emergency", "yes", "[unk]"}


def test_hand_written_header(tmp_path: Path) -> None:
    model = _model(tmp_path, {"Gr.fst": TINY_GR_FST})
    assert load_vocabulary(model) == frozenset({"yes", "no", "[unk]"})


def test_both_tables_of_an_acceptor(tmp_path: Path) -> None:
    model = _model(tmp_path, {"Gr.fst": _fst(SYMBOLS, SYMBOLS, kind="ngram")})
    assert load_vocabulary(model) == WORDS


def test_output_table_wins_for_a_transducer(tmp_path: Path) -> None:
    fst = _fst(["<eps>", "phone_a", "phone_b"], SYMBOLS, props=0x20000)
    assert load_vocabulary(_model(tmp_path, {"Gr.fst": fst})) == WORDS


def test_hclg_with_output_table_only(tmp_path: Path) -> None:
    assert load_vocabulary(_model(tmp_path, {"HCLG.fst": _fst(None, SYMBOLS)})) == WORDS


def test_utf8_words(tmp_path: Path) -> None:
    symbols = ["<eps>", "café", "naïve", "straße"]
    assert load_vocabulary(_model(tmp_path, {"Gr.fst": _fst(symbols, None)})) == {"café", "naïve", "straße"}


def test_refills_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    symbols = ["<eps>", *(f"word{i}" for i in range(500)), "#0"]
    # Not an acceptor, so the input table is skipped and the output table read.
    model = _model(tmp_path, {"Gr.fst": _fst(symbols, symbols, props=0)})
    for chunk in (1, 3, 7, 64):
        monkeypatch.setattr(vocabulary, "_CHUNK", chunk)
        assert load_vocabulary(model) == {f"word{i}" for i in range(500)}


def test_words_txt_is_preferred(tmp_path: Path) -> None:
    words_txt = "<eps> 0\n!SIL 1\nhello 2\nworld 3\n#0 4\n<s> 5\n</s> 6\n\n"
    model = _model(tmp_path, {"words.txt": words_txt.encode(), "Gr.fst": _fst(SYMBOLS, SYMBOLS)})
    assert load_vocabulary(model) == {"hello", "world"}


def test_falls_back_when_first_candidate_has_no_table(tmp_path: Path) -> None:
    model = _model(tmp_path, {"Gr.fst": _fst(None, None), "HCLG.fst": _fst(None, SYMBOLS)})
    assert load_vocabulary(model) == WORDS


def test_reads_only_the_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The arcs after the symbol tables are never read: at most one chunk beyond the header."""
    header = _fst(SYMBOLS, SYMBOLS)
    model = _model(tmp_path, {"Gr.fst": header + b"\0" * (8 << 20)})
    furthest: list[int] = []

    class Spy(vocabulary._Reader):
        def _fill(self, need: int) -> None:
            super()._fill(need)
            furthest.append(self._stream.tell())

    monkeypatch.setattr(vocabulary, "_Reader", Spy)
    assert load_vocabulary(model) == WORDS
    assert max(furthest) <= len(header) + vocabulary._CHUNK


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "ends inside"),
        (TINY_GR_FST[:50], "ends inside"),
        (TINY_GR_FST[:100], "ends inside"),
        (b"\x00" * 200, "not an OpenFst binary"),
        (_fst(None, None), "no word symbol table"),
        (_fst(["<eps>", "#0"], None), "empty"),
        (TINY_GR_FST[:65] + b"\x00\x00\x00\x00" + TINY_GR_FST[69:], "symbol table magic"),
        (TINY_GR_FST[:86] + struct.pack("<q", -1) + TINY_GR_FST[94:], "implausible"),
        (_fst(["<eps>", "yes"], None).replace(b"yes", b"\xff\xfe\xfd"), "UTF-8"),
    ],
)
def test_unreadable_graph_raises_model_error(tmp_path: Path, data: bytes, expected: str) -> None:
    model = _model(tmp_path, {"Gr.fst": data})
    with pytest.raises(ModelError, match=expected) as info:
        load_vocabulary(model)
    message = str(info.value)
    assert "Gr.fst" in message
    assert "Re-download" in message


def test_bad_words_txt(tmp_path: Path) -> None:
    model = _model(tmp_path, {"words.txt": b"hello 1\nbroken line here\n"})
    with pytest.raises(ModelError, match=r"words\.txt:2"):
        load_vocabulary(model)


def test_missing_model_dir(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_vocabulary(tmp_path / "nope")


def test_model_dir_without_graph(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a complete Vosk model"):
        load_vocabulary(tmp_path)


def test_real_model_has_the_words_we_need(model_dir: Path) -> None:
    words = load_vocabulary(model_dir)
    assert {"yes", "no", "emergency"} <= words
    assert len(words) > 1000
    assert not words & {"<eps>", "#0", "<s>", "</s>"}
