"""The words a Vosk model can recognise, read straight from the model files (no vosk import).

Vosk in grammar mode silently drops a grammar word that is not in the model's word symbol table
(it only logs "Ignoring word missing in vocabulary"), so a phrase containing it can never be heard.
This module lets the assistant check its grammars against the model before it ever listens.

Where the word table lives, tried in this order:

* ``graph/words.txt`` - big models: one ``word id`` pair per line.
* ``graph/Gr.fst``    - small models (lookahead graphs): the table is embedded in the OpenFst
  binary header.
* ``graph/HCLG.fst``  - static-graph models, when it carries an output symbol table.

OpenFst binary layout (all little-endian)::

    FstHeader:   int32 magic (2125659606), string fst_type, string arc_type, int32 version,
                 int32 flags, uint64 properties, int64 start, int64 num_states, int64 num_arcs
    then, if flags & 1, the input SymbolTable; then, if flags & 2, the output SymbolTable.
    SymbolTable: int32 magic (2125658996), string name, int64 available_key, int64 size,
                 then `size` times (string symbol, int64 key)
    string:      int32 length, then that many bytes (UTF-8)

Only the header and symbol tables are read (about 6 MB of the 24 MB Gr.fst of the small English
model), never the arcs.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from assistant.errors import ModelError

__all__ = ["NON_WORD_SYMBOLS", "load_vocabulary", "read_fst_words", "read_words_txt"]

FST_MAGIC = 2125659606
SYMBOL_TABLE_MAGIC = 2125658996
_HAS_ISYMBOLS = 0x1
_HAS_OSYMBOLS = 0x2
_ACCEPTOR = 0x10000  # OpenFst property bit kAcceptor

#: Graph-internal symbols that are never spoken and cannot usefully appear in a grammar.
#: ``[unk]`` is deliberately *kept*: Vosk grammars may use it, and it is only valid if the model has it.
NON_WORD_SYMBOLS = frozenset({"<eps>", "!SIL", "<s>", "</s>"})

# Sanity limits, so a corrupt length field produces a ModelError instead of a huge allocation.
_MAX_STRING = 1 << 20
_MAX_SYMBOLS = 50_000_000
_CHUNK = 1 << 20

_I32 = struct.Struct("<i")
_HEADER_TAIL = struct.Struct("<iiQqqq")  # version, flags, properties, start, num_states, num_arcs
_TABLE_HEAD = struct.Struct("<qq")  # available_key, size

_REINSTALL = "Re-download and unpack the Vosk model (scripts/setup), or point the assistant at a full model."


class _Truncated(Exception):
    """Internal: the file ended inside the header or a symbol table."""


class _Reader:
    """Reads a binary stream sequentially, pulling it in 1 MiB chunks only as far as needed."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.buf = b""
        self.pos = 0

    def _fill(self, need: int) -> None:
        """Make sure at least `need` unread bytes are buffered."""
        have = len(self.buf) - self.pos
        if have >= need:
            return
        parts = [self.buf[self.pos :]]
        while have < need:
            chunk = self._stream.read(max(_CHUNK, need - have))
            if not chunk:
                raise _Truncated
            parts.append(chunk)
            have += len(chunk)
        self.buf = b"".join(parts)
        self.pos = 0

    def unpack(self, fmt: struct.Struct) -> tuple[int, ...]:
        self._fill(fmt.size)
        values = fmt.unpack_from(self.buf, self.pos)
        self.pos += fmt.size
        return values

    def string(self) -> bytes:
        (length,) = self.unpack(_I32)
        if not 0 <= length <= _MAX_STRING:
            raise ValueError(f"implausible string length {length}")
        self._fill(length)
        value = self.buf[self.pos : self.pos + length]
        self.pos += length
        return value

    def symbols(self, count: int, *, keep: bool) -> list[bytes]:
        """Read `count` (string, int64) pairs; return the strings if `keep`, else just skip them.

        The hot loop of the module: it works on the buffered bytes directly and only falls back
        to refilling when an entry crosses the end of the buffer.
        """
        out: list[bytes] = []
        append = out.append
        unpack_i32 = _I32.unpack_from
        remaining = count
        while remaining:
            buf, pos, end = self.buf, self.pos, len(self.buf)
            need = 0
            while remaining:
                if pos + 4 > end:
                    need = 4
                    break
                (length,) = unpack_i32(buf, pos)
                if not 0 <= length <= _MAX_STRING:
                    raise ValueError(f"implausible symbol length {length}")
                stop = pos + 4 + length
                if stop + 8 > end:
                    need = 4 + length + 8
                    break
                if keep:
                    append(buf[pos + 4 : stop])
                pos = stop + 8  # skip the int64 key
                remaining -= 1
            self.pos = pos
            if remaining:
                self._fill(need)  # reads at least a chunk more; raises _Truncated at end of file
        return out


def _read_symbol_table(reader: _Reader, *, keep: bool) -> list[bytes]:
    (magic,) = reader.unpack(_I32)
    if magic != SYMBOL_TABLE_MAGIC:
        raise ValueError(f"bad symbol table magic {magic} (expected {SYMBOL_TABLE_MAGIC})")
    reader.string()  # table name, e.g. "exp/chain_a/tdnn/lgraph/words.txt"
    _available_key, size = reader.unpack(_TABLE_HEAD)
    if not 0 <= size <= _MAX_SYMBOLS:
        raise ValueError(f"implausible symbol table size {size}")
    return reader.symbols(size, keep=keep)


def _clean(words: set[str]) -> frozenset[str]:
    """Drop graph-internal symbols; disambiguation symbols are the contiguous run #0, #1, ..."""
    words -= NON_WORD_SYMBOLS
    words.discard("")
    k = 0
    while f"#{k}" in words:
        words.discard(f"#{k}")
        k += 1
    return frozenset(words)


def _decode(raw: list[bytes], path: Path) -> set[str]:
    try:
        return set(map(bytes.decode, raw))  # UTF-8
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path}: the word table is not valid UTF-8 ({exc}). {_REINSTALL}") from exc


def read_fst_words(path: Path) -> frozenset[str]:
    """The words in the output (else input) symbol table embedded in an OpenFst binary file."""
    try:
        with path.open("rb") as stream:
            reader = _Reader(stream)
            (magic,) = reader.unpack(_I32)
            if magic != FST_MAGIC:
                raise ModelError(
                    f"{path}: not an OpenFst binary file (magic {magic}, expected {FST_MAGIC}). {_REINSTALL}"
                )
            reader.string()  # fst type: "ngram", "const", "vector", ...
            reader.string()  # arc type: "standard"
            _version, flags, props, _start, _states, _arcs = reader.unpack(_HEADER_TAIL)
            has_in, has_out = bool(flags & _HAS_ISYMBOLS), bool(flags & _HAS_OSYMBOLS)
            if not (has_in or has_out):
                raise ModelError(f"{path}: the graph carries no word symbol table. {_REINSTALL}")
            # Words are the output labels (what Vosk uses). An acceptor such as G has the same
            # labels on both sides, so its input table, which comes first, is enough (saves ~40 ms).
            use_input = has_in and (not has_out or bool(props & _ACCEPTOR))
            raw = _read_symbol_table(reader, keep=use_input) if has_in else []
            if not use_input:
                raw = _read_symbol_table(reader, keep=True)
    except ModelError:
        raise
    except _Truncated as exc:
        raise ModelError(f"{path}: file ends inside its header (partial download?). {_REINSTALL}") from exc
    except ValueError as exc:
        raise ModelError(f"{path}: corrupt OpenFst header: {exc}. {_REINSTALL}") from exc
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the graph file ({exc.strerror or exc}). {_REINSTALL}") from exc
    words = _clean(_decode(raw, path))
    if not words:
        raise ModelError(f"{path}: the word symbol table is empty. {_REINSTALL}")
    return words


def read_words_txt(path: Path) -> frozenset[str]:
    """The words in a Kaldi ``words.txt`` (``word id`` per line)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the word list ({exc.strerror or exc}). {_REINSTALL}") from exc
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path}: the word list is not valid UTF-8 ({exc}). {_REINSTALL}") from exc
    symbols: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[1].isdigit():
            raise ModelError(f"{path}:{number}: expected 'word id', got {line!r}. {_REINSTALL}")
        symbols.add(fields[0])
    words = _clean(symbols)
    if not words:
        raise ModelError(f"{path}: the word list is empty. {_REINSTALL}")
    return words


def load_vocabulary(model_dir: Path) -> frozenset[str]:
    """Every word the Vosk model in `model_dir` can recognise (graph-internal symbols removed).

    Raises ModelError, naming the files tried and what to do, if no word table can be read.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"Speech model directory not found: {model_dir}. {_REINSTALL}")
    graph = model_dir / "graph"
    candidates = [
        (graph / "words.txt", read_words_txt),
        (graph / "Gr.fst", read_fst_words),
        (graph / "HCLG.fst", read_fst_words),
    ]
    problems: list[str] = []
    for path, reader in candidates:
        if not path.is_file():
            continue
        try:
            return reader(path)
        except ModelError as exc:
            problems.append(str(exc))
    if problems:
        raise ModelError("Cannot read the speech model's word list: " + " | ".join(problems))
    names = ", ".join(str(path.relative_to(model_dir)) for path, _ in candidates)
    raise ModelError(f"{model_dir} has none of {names}; it is not a complete Vosk model. {_REINSTALL}")
