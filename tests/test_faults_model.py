"""Faults in the speech model (issue 8, item 9): missing, truncated and same-size corrupt files are caught by
`tingle check` and repaired by setup; installs swap atomically; what an interrupted run (even `kill -9`) leaves
behind is cleaned on the next run. Mostly with a small fake archive; the real model where it matters.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from fault_support import time_limit

from assistant.app import cli
from assistant.errors import ModelError
from assistant.models import modelstore, provision

ROOT = Path(__file__).resolve().parent.parent
FILES = {"am/final.mdl": b"acoustic model " * 1000, "conf/model.conf": b"conf", "graph/Gr.fst": b"graph" * 100}
M2_ARCHIVE = Path.home() / ".m2/repository/com/alphacephei/vosk-model-en/0.3.45/vosk-model-en-0.3.45.aar"


def make_archive(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("classes.jar", b"")
        for name, data in files.items():
            archive.writestr(modelstore.AAR_MODEL_PREFIX + name, data)
    return path


@pytest.fixture()
def pin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fake pinned archive; fetching it is a copy (counted in `fetches`); temp folders under tmp_path."""
    archive = make_archive(tmp_path / "model.aar", FILES)
    monkeypatch.setattr(modelstore, "MANIFEST", {n: (len(d), hashlib.sha256(d).hexdigest()) for n, d in FILES.items()})
    monkeypatch.setattr(provision, "AAR_SHA256", modelstore.sha256_file(archive))
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    FETCHES.clear()

    def fetch(work: Path) -> Path:
        FETCHES.append(work)
        return Path(shutil.copy(archive, work / "model.aar"))

    monkeypatch.setattr(provision, "fetch_archive", fetch)
    return archive


FETCHES: list[Path] = []
"""Download folders the fake fetch was called with, in the current test."""


def fetch_count() -> int:
    return len(FETCHES)


def installed(tmp_path: Path) -> Path:
    target = tmp_path / "models" / "m"
    assert "installed" in provision.provision(target)
    return target


def corrupt_same_size(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def damage_file(path: Path, damage: str) -> None:
    """Damage one model file: "missing" deletes it, "truncated" keeps 100 bytes, anything else corrupts it in place."""
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    else:
        corrupt_same_size(path)


@pytest.mark.parametrize("damage", ["missing", "truncated", "same-size", "same-size, times reset"])
def test_damage_is_caught_and_repaired(pin: Path, tmp_path: Path, damage: str) -> None:
    """Same-size corruption of am/final.mdl passed `tingle check` and setup ("ready")."""
    target = installed(tmp_path)
    path = target / "am" / "final.mdl"
    before = path.stat()
    damage_file(path, damage)
    if damage.endswith("times reset"):
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # only ctime still tells
    with pytest.raises(ModelError, match=r"am/final.mdl (is missing|has 100 bytes|is corrupt).*scripts/setup"):
        modelstore.verify_pinned(target, deep=False)  # the check at every session start
    with pytest.raises(ModelError, match=r"am/final\.mdl"):
        modelstore.verify_pinned(target, deep=True)  # tingle check (check_model) and setup
    assert "installed" in provision.provision(target)
    assert fetch_count() == 2
    modelstore.verify_pinned(target, deep=True)
    assert path.read_bytes() == FILES["am/final.mdl"]


def test_an_unchanged_model_is_not_hashed_at_start_but_setup_hashes_it(pin: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    target = installed(tmp_path)
    hashed: list[Path] = []
    real = modelstore.sha256_file
    monkeypatch.setattr(modelstore, "sha256_file", lambda p: hashed.append(p) or real(p))
    modelstore.verify_pinned(target, deep=False)
    assert hashed == []
    assert "ready" in provision.provision(target)
    assert len(hashed) == len(FILES) and fetch_count() == 1


def test_an_old_stamp_means_every_file_is_hashed_and_setup_records_fingerprints(pin: Path, tmp_path: Path) -> None:
    target = installed(tmp_path)
    (target / modelstore.STAMP).write_text(provision.AAR_SHA256 + "\n", encoding="ascii")  # as older versions wrote
    corrupt_same_size(target / "graph" / "Gr.fst")
    with pytest.raises(ModelError, match=r"Gr\.fst is corrupt"):
        modelstore.verify_pinned(target, deep=False)
    assert "installed" in provision.provision(target)
    assert set(modelstore.read_stamp(target)["files"]) == set(FILES)


def test_the_swap_is_atomic_and_a_failed_rename_puts_the_old_model_back(pin: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The old model was deleted before the new one was renamed in."""
    target = installed(tmp_path)
    inode = (target / "am" / "final.mdl").stat().st_ino
    real = os.rename
    seen: list[tuple[str, str]] = []

    def rename(source: object, destination: object) -> None:
        seen.append((Path(str(source)).name, Path(str(destination)).name))
        if Path(str(source)).name.startswith(provision.UNPACKING):
            raise OSError(28, "No space left on device")
        real(source, destination)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(ModelError, match="could not move the new model"):
        provision.unpack(pin, target)
    assert seen[0][0] == "m" and seen[0][1].startswith(provision.OLD)  # aside first
    assert seen[-1][1] == "m"  # then back
    assert (target / "am" / "final.mdl").stat().st_ino == inode
    modelstore.verify_pinned(target, deep=True)
    assert sorted(p.name for p in target.parent.iterdir()) == [".m.lock", "m"]


def test_a_kill_between_the_renames_is_repaired_next_time(pin: Path, tmp_path: Path) -> None:
    target = installed(tmp_path)
    os.rename(target, target.parent / f"{provision.OLD}abc")  # killed right after moving the old model aside
    assert "installed" in provision.provision(target)
    assert sorted(p.name for p in target.parent.iterdir()) == [".m.lock", "m"]


KILLED_RUN = """
import hashlib, os, shutil, sys, time
from pathlib import Path
from assistant.models import modelstore, provision
archive, target = Path(sys.argv[1]), Path(sys.argv[2])
files = {name: (size, digest) for name, size, digest in (line.split() for line in sys.argv[3].split(";"))}
modelstore.MANIFEST = {name: (int(size), digest) for name, (size, digest) in files.items()}
provision.AAR_SHA256 = modelstore.sha256_file(archive)
provision.fetch_archive = lambda work: Path(shutil.copy(archive, work / "model.aar"))
real = shutil.copyfileobj
def slow(source, sink, *args):
    real(source, sink, *args)
    print("copied", flush=True)
    time.sleep(60)  # killed here, mid-unpack
shutil.copyfileobj = slow
(target / modelstore.STAMP).unlink()  # as if damaged: a reinstall starts
provision.provision(target)
"""


def test_kill_9_during_install_keeps_the_old_model_and_the_next_run_cleans_up(pin: Path, tmp_path: Path) -> None:
    """A kill during unpack left a half-deleted model, 68 MB in models/.unpacking-* and 40 MB in
    /tmp/tingle-model-*, which setup never removed."""
    target = installed(tmp_path)
    manifest = ";".join(f"{n} {s} {d}" for n, (s, d) in modelstore.MANIFEST.items())
    env = {**os.environ, "TMPDIR": str(tempfile.gettempdir()), "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILLED_RUN), str(pin), str(target), manifest],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        with time_limit(30.0):
            assert child.stdout is not None and child.stdout.readline().strip() == "copied"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    leftovers = [p.name for p in target.parent.iterdir() if p.name.startswith(provision.UNPACKING)]
    downloads = list(Path(tempfile.gettempdir()).glob(f"{provision.DOWNLOAD}*"))
    assert leftovers and downloads, (leftovers, downloads)
    assert (target / "am" / "final.mdl").read_bytes() == FILES["am/final.mdl"]  # the old model is whole
    live = Path(tempfile.gettempdir()) / f"{provision.DOWNLOAD}live"
    live.mkdir()
    (live / provision.OWNER).write_text(f"{os.getpid()}\n", encoding="ascii")  # a run still going: kept
    assert "installed" in provision.provision(target)
    assert sorted(p.name for p in target.parent.iterdir()) == [".m.lock", "m"]
    assert list(Path(tempfile.gettempdir()).glob(f"{provision.DOWNLOAD}*")) == [live]


def test_a_second_run_waits_for_the_first(pin: Path, tmp_path: Path) -> None:
    target = tmp_path / "models" / "m"
    order: list[str] = []
    with provision.provisioning_lock(target):
        code = ("import fcntl, sys, time; f = open(sys.argv[1], 'a'); t = time.monotonic(); "
                "fcntl.flock(f, fcntl.LOCK_EX); print(time.monotonic() - t)")
        child = subprocess.Popen([sys.executable, "-c", code, str(target.parent / ".m.lock")],
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        order.append("first done")
    out, _ = child.communicate(timeout=10)
    assert float(out) >= 0.4 and order == ["first done"]


# --- the real model -------------------------------------------------------------------------------------------

@pytest.fixture()
def real_copy(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the provisioned model, standing in as the default model."""
    copy = tmp_path / "models" / modelstore.MODEL_NAME
    shutil.copytree(model_dir, copy)
    monkeypatch.setattr(modelstore, "DEFAULT_MODEL_DIR", copy)
    monkeypatch.delenv(modelstore.ENV_VAR, raising=False)
    return copy


def test_tingle_check_catches_same_size_corruption_of_the_real_model(real_copy: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check"]) == 0
    corrupt_same_size(real_copy / "am" / "final.mdl")
    assert cli.main(["check"]) == 1
    assert "am/final.mdl is corrupt" in capsys.readouterr().err
    with pytest.raises(ModelError, match=r"am/final\.mdl is corrupt"):
        modelstore.check_model()


def test_setup_repairs_same_size_corruption_of_the_real_model(real_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not M2_ARCHIVE.is_file():
        pytest.skip(f"no cached archive at {M2_ARCHIVE} (scripts/setup fetches it)")
    monkeypatch.setattr(provision, "fetch_archive", lambda work: M2_ARCHIVE)  # what Maven returns, offline
    corrupt_same_size(real_copy / "am" / "final.mdl")
    assert "installed" in provision.provision(real_copy)
    modelstore.check_model()
    assert "ready" in provision.provision(real_copy)


# --- a model folder Vosk loads but cannot use -------------------------------------------------------------------

def _own_model_without_ivector(real_copy: Path) -> Path:
    """A user's own model (no stamp, no manifest, no uuid: nothing to check against) lacking ivector/."""
    shutil.rmtree(real_copy / "ivector")
    for name in (modelstore.STAMP, modelstore.FILE_LIST, "uuid", "README"):
        (real_copy / name).unlink(missing_ok=True)
    return real_copy


@pytest.mark.parametrize("command", ["recognize", "session"])
def test_a_model_without_ivector_is_a_clear_error_not_a_traceback(real_copy: Path, tmp_path: Path,
                                                                   command: str) -> None:
    """Vosk loaded such a model, then raised a bare "Failed to create a recognizer": a Python traceback."""
    from voice_support import require_voice_stack, run_cli, write_turn

    from bench.corpus import TEST_VOICES

    require_voice_stack()
    model = _own_model_without_ivector(real_copy)
    wav = write_turn(tmp_path / "yes.wav", "yes", TEST_VOICES[0])
    transcript = tmp_path / "t.jsonl"
    args = (["recognize", "--model", model, wav] if command == "recognize"
            else ["--model", model, "--audio-in", wav, "--audio-out", tmp_path / "out.wav", "--fast",
                  "--transcript", transcript])
    result = run_cli(args, tmp_path, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, (result.returncode, result.stderr)
    said = [line for line in result.stderr.splitlines() if line.startswith("tingle:")]
    assert said and all(str(model) in line and "ivector" in line and "scripts/setup" in line for line in said), \
        result.stderr
    if command == "session":
        assert "ivector" in result.stdout  # told in the conversation too (printed and spoken)
        log = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()]
        assert [e["event"] for e in log][-1] == "end" and log[-1]["how"] == "input failed"
        assert any(e["event"] == "error" and "ivector" in e["message"] for e in log)


# --- damaged copies passed with --model: checked before Vosk reads them (Vosk segfaults on a cut graph) -------

def test_setup_writes_the_file_list_and_adds_it_to_an_older_install(pin: Path, tmp_path: Path) -> None:
    target = installed(tmp_path)
    assert modelstore.read_file_list(target) == modelstore.MANIFEST
    (target / modelstore.FILE_LIST).unlink()  # installed by an older version
    assert "ready" in provision.provision(target)
    assert fetch_count() == 1  # not fetched again
    assert modelstore.read_file_list(target) == modelstore.MANIFEST


@pytest.mark.parametrize("damage", ["missing", "truncated", "same-size"])
def test_a_damaged_copy_with_a_file_list_is_refused_before_vosk_reads_it(pin: Path, tmp_path: Path,
                                                                         damage: str) -> None:
    copy = tmp_path / "elsewhere" / "mine"
    shutil.copytree(installed(tmp_path), copy)
    modelstore.resolve_model(copy)
    modelstore.check_model(copy)
    path = copy / "graph" / "Gr.fst"
    damage_file(path, damage)
    problem = {"missing": "is missing", "truncated": "has 100 bytes, expected 500", "same-size": "is corrupt"}[damage]
    if damage != "same-size":  # every start: sizes only
        with pytest.raises(ModelError, match=rf"{copy}.*graph/Gr\.fst {problem}.*scripts/setup"):
            modelstore.resolve_model(copy)
    else:
        modelstore.resolve_model(copy)
    with pytest.raises(ModelError, match=rf"graph/Gr\.fst {problem}"):  # tingle check: every sha256
        modelstore.check_model(copy)


def test_an_unreadable_file_list_is_a_clear_error(pin: Path, tmp_path: Path) -> None:
    target = installed(tmp_path)
    (target / modelstore.FILE_LIST).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match=r"file list .*cannot be read"):
        modelstore.resolve_model(target)


def test_a_users_own_model_with_an_empty_file_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "own"
    for name in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst", "graph/Gr.fst"):
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_bytes(b"x")
    modelstore.resolve_model(model)
    (model / "graph" / "HCLr.fst").write_bytes(b"")
    with pytest.raises(ModelError, match=r"graph/HCLr\.fst is empty"):
        modelstore.resolve_model(model)


def _cut(path: Path, keep: int = 1_000_000) -> None:
    with path.open("r+b") as stream:
        stream.truncate(keep)


@pytest.mark.parametrize("kind", ["with its file list", "a copy without a file list (known by its uuid)"])
def test_a_cut_graph_is_a_clear_error_in_check_recognize_and_a_session(real_copy: Path, tmp_path: Path,
                                                                        kind: str) -> None:
    """A cut graph/HCLr.fst made Vosk segfault (exit 139) with no message; `tingle check` said OK."""
    from voice_support import require_voice_stack, run_cli, write_turn

    from bench.corpus import TEST_VOICES

    require_voice_stack()
    if kind.startswith("a copy without"):
        (real_copy / modelstore.FILE_LIST).unlink(missing_ok=True)
    else:
        assert modelstore.read_file_list(real_copy) == modelstore.MANIFEST, "scripts/setup writes the file list"
    _cut(real_copy / "graph" / "HCLr.fst")
    wav = write_turn(tmp_path / "yes.wav", "yes", TEST_VOICES[0])
    for args in (["check", "--model", real_copy], ["recognize", "--model", real_copy, wav],
                 ["--model", real_copy, "--audio-in", wav, "--audio-out", tmp_path / "out.wav", "--fast",
                  "--transcript", tmp_path / "t.jsonl"]):
        result = run_cli(args, tmp_path, timeout=120)
        assert result.returncode == 1, (args, result.returncode, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.startswith("tingle:")]
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert str(real_copy) in lines[0] and "graph/HCLr.fst has 1000000 bytes" in lines[0], lines[0]
        assert "scripts/setup" in lines[0], lines[0]


def test_check_reports_a_model_vosk_crashes_on(real_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A user's own model (nothing to compare its files with): `tingle check` loads it in a child process, so
    Vosk's segfault is reported as a damaged model instead of ending tingle."""
    for name in (modelstore.STAMP, modelstore.FILE_LIST, "uuid", "README"):
        (real_copy / name).unlink(missing_ok=True)
    assert cli.main(["check", "--model", str(real_copy)]) == 0
    _cut(real_copy / "graph" / "HCLr.fst")
    assert cli.main(["check", "--model", str(real_copy)]) == 1
    err = capsys.readouterr().err
    assert f"the speech model at {real_copy} is damaged: Vosk crashed reading it (SIGSEGV" in err, err
    assert "HCLr.fst" in err and "scripts/setup" in err, err


def test_a_model_failing_to_load_during_the_session_closes_it_safely_and_exits_1(real_copy: Path,
                                                                                 tmp_path: Path) -> None:
    """The model loads while the greeting is said; when that load failed, the session closed safely but exited 0."""
    from voice_support import require_voice_stack, run_cli, write_turn

    from bench.corpus import TEST_VOICES

    require_voice_stack()
    for name in (modelstore.STAMP, modelstore.FILE_LIST, "uuid", "README"):
        (real_copy / name).unlink(missing_ok=True)  # a user's own model: its files are not known
    (real_copy / "conf" / "model.conf").write_text("--no-such-option=1\n", encoding="ascii")
    wav = write_turn(tmp_path / "yes.wav", "yes", TEST_VOICES[0])
    transcript = tmp_path / "t.jsonl"
    result = run_cli(["--model", real_copy, "--audio-in", wav, "--audio-out", tmp_path / "out.wav", "--fast",
                      "--transcript", transcript], tmp_path, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"tingle: the session was cut short: Vosk could not load the model at {real_copy}" in result.stderr
    assert "Goodbye" in result.stdout  # closed with the advice and the safety net
    log = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()]
    assert log[-1]["event"] == "end" and log[-1]["how"] == "input failed"
