"""Reading WAV files of any sane format, streamed: the header is checked, then audio is read a block at a time.

Accepted: RIFF/WAVE, PCM 8/16/24/32-bit or IEEE float 32/64-bit (plain or WAVE_FORMAT_EXTENSIBLE), 1 to
`MAX_CHANNELS` channels (mixed down to mono), `MIN_RATE` to `MAX_RATE` Hz. Anything else is refused with a
one-line AudioFileError naming the file and the problem. Memory never depends on the file's length.

Every loop here provably ends: the chunk scan advances at least 8 bytes per step and stops after
`MAX_CHUNKS` chunks; reads consume at least one frame or report the end of the data.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from assistant.errors import AudioFileError

MIN_RATE = 8000
"""Lowest sample rate accepted (Hz): below it there is no intelligible speech."""
MAX_RATE = 192000
"""Highest sample rate accepted (Hz)."""
MAX_CHANNELS = 8
"""More channels than this is taken as a damaged header."""
MAX_CHUNKS = 1000
"""RIFF chunks scanned for 'fmt ' and 'data' before the file is refused."""
PCM, FLOAT, EXTENSIBLE = 1, 3, 0xFFFE
_EXTENSIBLE_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_PCM_BITS = (8, 16, 24, 32)
_FLOAT_BITS = (32, 64)
ADVICE = ("use a WAV file at 8-192 kHz, 8/16/24/32-bit PCM or 32/64-bit float, 1 to 8 channels "
          "(e.g. sox in.wav -r 16000 -b 16 -c 1 out.wav)")
ENCODING_NAMES = {2: "Microsoft ADPCM", 6: "A-law", 7: "mu-law", 17: "IMA ADPCM", 49: "GSM 6.10", 80: "MPEG",
                  85: "MP3"}
"""Compressed WAV encodings by their format number, named in the refusal (sox converts them all)."""


@dataclass(frozen=True)
class WavFormat:
    """What a WAV header declares, after checking."""

    encoding: int
    """PCM (1) or FLOAT (3)."""
    channels: int
    rate: int
    """Sample rate (Hz)."""
    bits: int
    """Bits per sample."""
    data_offset: int
    """Byte offset of the first frame."""
    frames: int
    """Whole frames present in the file (the declared count, cut to what the file holds)."""

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def refuse(path: Path | str, reason: str) -> AudioFileError:
    """The one-line error for an unusable audio file."""
    return AudioFileError(f"{path}: {reason}; {ADVICE}")


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading without blocking (a FIFO is refused, not waited on); only regular files."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise AudioFileError(f"audio file not found: {path}") from exc
    except OSError as exc:
        raise AudioFileError(f"cannot open the audio file {path} ({exc.strerror})") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise AudioFileError(f"{path} is not a regular file; give a WAV file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def parse_header(stream: BinaryIO, size: int, path: Path | str, *, allow_empty: bool = False) -> WavFormat:
    """Find and check the 'fmt ' and 'data' chunks of a WAV of `size` bytes (with no frames: refused, unless
    `allow_empty`)."""
    head = stream.read(12)
    if not head:
        raise refuse(path, "the file is empty (0 bytes), not a WAV file")
    if head[:4] == b"RF64":
        raise refuse(path, "it is an RF64 (over 4 GB) WAV, which is not supported")
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise refuse(path, "it is not a WAV file (no RIFF/WAVE header)")
    position, fmt, data = 12, None, None
    for _ in range(MAX_CHUNKS):
        if (fmt is not None and data is not None) or position + 8 > size:
            break
        stream.seek(position)
        header = stream.read(8)
        if len(header) < 8:
            break
        kind, length = header[:4], int.from_bytes(header[4:], "little")
        body = position + 8
        if kind == b"fmt " and fmt is None:
            fmt = stream.read(min(length, 40))
            if length < 16 or len(fmt) < 16:
                raise refuse(path, f"the file ends inside its header ({size} bytes): it is cut short or damaged")
        elif kind == b"data" and data is None:
            data = (body, max(0, min(length, size - body)))
        position = body + length + (length & 1)  # at least 8 bytes further on every step
    else:
        if fmt is None or data is None:
            raise refuse(path, f"no audio among its first {MAX_CHUNKS} chunks")
    if fmt is None:
        raise refuse(path, f"the file ends inside its header ({size} bytes): it has no format ('fmt ') chunk")
    if data is None:
        raise refuse(path, "it has no audio data ('data' chunk)")
    return _check_format(fmt, data, path, allow_empty)


def _check_format(fmt: bytes, data: tuple[int, int], path: Path | str, allow_empty: bool) -> WavFormat:
    encoding, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if encoding == EXTENSIBLE:
        if len(fmt) < 40 or fmt[26:40] != _EXTENSIBLE_GUID_TAIL:
            raise refuse(path, "its extensible format header is damaged")
        encoding = int.from_bytes(fmt[24:26], "little")
    if encoding == PCM and bits not in _PCM_BITS:
        raise refuse(path, f"it declares {bits}-bit PCM samples")
    if encoding == FLOAT and bits not in _FLOAT_BITS:
        raise refuse(path, f"it declares {bits}-bit float samples")
    if encoding not in (PCM, FLOAT):
        name = ENCODING_NAMES.get(encoding)
        what = f"{name} (audio encoding {encoding}), compressed" if name else \
            f"audio encoding {encoding} (compressed or unknown)"
        raise refuse(path, f"it uses {what}, not PCM or float")
    if not 1 <= channels <= MAX_CHANNELS:
        raise refuse(path, f"it declares {channels} channels")
    if rate < MIN_RATE:
        raise refuse(path, f"it declares a sample rate of {rate} Hz, too low for speech")
    if rate > MAX_RATE:
        raise refuse(path, f"it declares a sample rate of {rate} Hz, more than {MAX_RATE} Hz")
    frame_bytes = channels * bits // 8
    if block_align != frame_bytes:
        raise refuse(path, f"its header is damaged: {block_align}-byte frames declared, but {channels} "
                           f"channel(s) of {bits} bits take {frame_bytes}")
    offset, length = data
    frames = length // frame_bytes
    if frames == 0 and not allow_empty:
        raise refuse(path, "it holds no audio (0 samples)")
    return WavFormat(encoding=encoding, channels=channels, rate=rate, bits=bits, data_offset=offset, frames=frames)


def decode(raw: bytes, fmt: WavFormat) -> np.ndarray:
    """Whole frames of `raw` as float64 mono samples in [-1, 1] (channels averaged)."""
    usable = len(raw) - len(raw) % fmt.frame_bytes
    buffer = np.frombuffer(raw[:usable], dtype=np.uint8)
    if fmt.encoding == FLOAT:
        values = buffer.view("<f4" if fmt.bits == 32 else "<f8").astype(np.float64)
        values = np.clip(np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    elif fmt.bits == 8:
        values = (buffer.astype(np.float64) - 128.0) / 128.0
    elif fmt.bits == 16:
        values = buffer.view("<i2") / 32768.0
    elif fmt.bits == 24:
        triples = buffer.reshape(-1, 3).astype(np.int32)
        joined = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        values = ((joined << 8) >> 8) / 8388608.0  # sign-extend from 24 bits
    else:
        values = buffer.view("<i4") / 2147483648.0
    if fmt.channels > 1:
        values = values.reshape(-1, fmt.channels).mean(axis=1)
    return np.asarray(values, dtype=np.float64)


class WavReader:
    """An open WAV file, read a block of frames at a time. Use as a context manager, or call `close()`."""

    def __init__(self, path: Path, *, allow_empty: bool = False) -> None:
        self.path = path
        self._stream = open_regular(path)
        try:
            size = os.fstat(self._stream.fileno()).st_size
            self.format = parse_header(self._stream, size, path, allow_empty=allow_empty)
            self._stream.seek(self.format.data_offset)
        except OSError as exc:
            self._stream.close()
            raise AudioFileError(f"cannot read the audio file {path} ({exc.strerror or exc})") from exc
        except BaseException:
            self._stream.close()
            raise
        self._left = self.format.frames

    def __enter__(self) -> WavReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, frames: int) -> np.ndarray:
        """Up to `frames` (at least 1) more mono samples; an empty array once the data has ended."""
        wanted = min(max(1, frames), self._left)
        if wanted <= 0:
            return np.zeros(0)
        try:
            raw = self._stream.read(wanted * self.format.frame_bytes)
        except OSError as exc:
            raise AudioFileError(f"reading the audio file {self.path} failed ({exc.strerror or exc})") from exc
        got = len(raw) // self.format.frame_bytes
        self._left = self._left - got if got else 0  # a file cut short while being read ends here
        return decode(raw, self.format) if got else np.zeros(0)

    def close(self) -> None:
        self._stream.close()


def probe(path: Path) -> WavFormat:
    """Check that `path` is a usable WAV file; returns its format (reads only the header)."""
    with WavReader(path) as reader:
        return reader.format

