"""`tingle install-service` / `tingle uninstall-service`: run `tingle listen` at login as a systemd user unit.

The unit (`~/.config/systemd/user/tingle.service`, `$XDG_CONFIG_HOME` honoured) starts with the user's
session (`default.target`), restarts on failure after 5 s, and sends what the assistant prints and logs to
the journal (`journalctl --user -u tingle`). A stop by `systemctl --user stop` (SIGTERM) ends cleanly: the
exit status 128 + 15 is declared a success, so it is not restarted.

When `systemctl` is on the PATH it is run (`daemon-reload`, then `enable --now`, or `disable --now`);
otherwise, or when it fails (no user session bus), the commands to run are printed instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError

UNIT_NAME = "tingle.service"
MARKER = "# Written by `tingle install-service`; remove with `tingle uninstall-service`."
"""First line of every unit we write: we only ever overwrite or remove a file that has it."""
RESTART_SECONDS = 5
"""Wait before a restart after a failure (s)."""

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]
"""Runs one command, capturing its output; never raises for a non-zero exit."""


class ServiceError(AssistantError):
    """The unit file cannot be written or removed."""


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False, timeout=60)


def unit_dir(environ: dict[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/systemd/user` (default `~/.config/systemd/user`)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "systemd" / "user"


def quote(arg: str) -> str:
    """One ExecStart argument, quoted for systemd (spaces, quotes, backslashes; `%` doubled, `$` escaped)."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if text and not any(c in text for c in ' \t"\\\''):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def listen_command(listen_args: Sequence[str], python: str | None = None) -> list[str]:
    """The command the unit runs: this installation's `tingle listen` with `listen_args`."""
    executable = Path(python or sys.executable)
    script = executable.parent / "tingle"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "listen", *listen_args]
    return [str(executable), "-m", "assistant", "listen", *listen_args]


def unit_text(command: Sequence[str], working_dir: Path) -> str:
    """The unit file for `command`."""
    return "\n".join([
        MARKER,
        "[Unit]",
        "Description=tingle: hands-free voice assistant for tingling or numbness in the back (resident)",
        "After=pipewire.service pipewire-pulse.service pulseaudio.service wireplumber.service",
        "",
        "[Service]",
        "Type=simple",
        "WorkingDirectory=" + str(working_dir).replace("%", "%%"),
        "ExecStart=" + " ".join(quote(part) for part in command),
        "Restart=on-failure",
        f"RestartSec={RESTART_SECONDS}",
        "SuccessExitStatus=129 143",
        "Environment=PYTHONUNBUFFERED=1",
        "StandardOutput=journal",
        "StandardError=journal",
        "SyslogIdentifier=tingle",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ])


@dataclass
class ServiceManager:
    """Writes and removes the unit; runs systemctl when there is one."""

    directory: Path
    runner: Runner = _run
    which: Callable[[str], str | None] = shutil.which
    show: Callable[[str], None] = print

    @property
    def path(self) -> Path:
        return self.directory / UNIT_NAME

    def install(self, command: Sequence[str], working_dir: Path, *, enable: bool = True, force: bool = False) -> int:
        """Write the unit (refusing to replace a file we did not write, unless `force`), then enable and
        start it. Returns the exit status."""
        if self.path.exists() and not force and not _ours(self.path):
            raise ServiceError(f"{self.path} exists and was not written by tingle; move it away, or pass --force "
                               "to replace it")
        text = unit_text(command, working_dir)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(text, encoding="utf-8")
            temporary.chmod(0o644)
            temporary.replace(self.path)
        except OSError as exc:
            raise ServiceError(f"cannot write {self.path} ({exc.strerror}); check that {self.directory} "
                               "is writable") from exc
        self.show(f"Wrote {self.path}")
        steps = [["systemctl", "--user", "daemon-reload"]]
        if enable:
            steps.append(["systemctl", "--user", "enable", "--now", UNIT_NAME])
        status = self._systemctl(steps)
        if status == 0 and enable:
            self.show("tingle now starts at login and is running. Logs: journalctl --user -u tingle -f")
        return status

    def uninstall(self) -> int:
        """Stop and disable the unit, then remove it. Returns the exit status."""
        if not self.path.exists():
            self.show(f"Nothing to remove: {self.path} does not exist.")
            return 0
        if not _ours(self.path):
            raise ServiceError(f"{self.path} was not written by tingle; remove it yourself if you mean to")
        status = self._systemctl([["systemctl", "--user", "disable", "--now", UNIT_NAME]])
        try:
            self.path.unlink()
        except OSError as exc:
            raise ServiceError(f"cannot remove {self.path} ({exc.strerror})") from exc
        self.show(f"Removed {self.path}")
        return max(status, self._systemctl([["systemctl", "--user", "daemon-reload"]]))

    def _systemctl(self, steps: list[list[str]]) -> int:
        """Run the steps in order; without systemctl, or when one fails, print what to run. 0: all ran."""
        wanted = " && ".join(" ".join(step) for step in steps)
        if self.which("systemctl") is None:
            self.show(f"systemctl is not available here; on a machine with systemd, run: {wanted}")
            return 0
        for step in steps:
            try:
                done = self.runner(step)
            except (OSError, subprocess.SubprocessError) as exc:
                self.show(f"`{' '.join(step)}` could not run ({exc}); run yourself: {wanted}")
                return 1
            if done.returncode != 0:
                why = (done.stderr or done.stdout or "").strip() or f"exit status {done.returncode}"
                self.show(f"`{' '.join(step)}` failed: {why}. Once a user session of systemd is running, run: "
                          f"{wanted}")
                return 1
        return 0


def _ours(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.readline().rstrip("\n") == MARKER
    except OSError:
        return False


def install_main(argv: Sequence[str]) -> int:
    """`tingle install-service [--no-enable] [--force] [LISTEN OPTIONS...]`: the unit runs `tingle listen`
    with the listen options given (checked now, so a typo is not found at login)."""
    from assistant.app.cli import PROJECT_ROOT
    from assistant.app.resident import listen_parser

    parser = argparse.ArgumentParser(
        prog="tingle install-service",
        description="Start `tingle listen` at login (a systemd user unit). Other options are passed to "
                    "`tingle listen`, e.g. --wake-phrase hey-jarvis --region GB --device 2.")
    parser.add_argument("--no-enable", action="store_true", help="only write the unit; do not enable or start it")
    parser.add_argument("--force", action="store_true", help="replace a unit file that tingle did not write")
    args, listen_args = parser.parse_known_args(list(argv))
    checked = listen_parser().parse_args(listen_args)
    if checked.audio_in:
        raise ServiceError("--audio-in is for testing with recordings; the service listens to the microphone")
    if checked.model is not None:  # a missing or broken model is found now, not at login
        from assistant.models.modelstore import resolve_model

        resolve_model(checked.model if checked.model.is_absolute() else PROJECT_ROOT / checked.model)  # unit's cwd
    manager = ServiceManager(unit_dir())
    return manager.install(listen_command(listen_args), PROJECT_ROOT, enable=not args.no_enable, force=args.force)


def uninstall_main(argv: Sequence[str]) -> int:
    """`tingle uninstall-service`: stop, disable and remove the unit."""
    argparse.ArgumentParser(prog="tingle uninstall-service",
                            description="Stop tingle starting at login: remove its systemd user unit.").parse_args(
        list(argv))
    return ServiceManager(unit_dir()).uninstall()
