"""`tingle install-service` / `uninstall-service` (`assistant.app.service`): the unit file, and systemctl run, absent
or failing — with a fake runner, never the machine's systemd."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from assistant.app.service import (
    MARKER,
    UNIT_NAME,
    ServiceError,
    ServiceManager,
    install_main,
    listen_command,
    quote,
    uninstall_main,
    unit_dir,
    unit_text,
)
from assistant.errors import ModelError


class FakeSystemctl:
    def __init__(self, fail: str = "") -> None:
        self.fail = fail
        self.ran: list[list[str]] = []

    def __call__(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.ran.append(list(command))
        code = 1 if self.fail and self.fail in command else 0
        return subprocess.CompletedProcess(list(command), code, "", "Failed to connect to bus" if code else "")


def _manager(tmp_path: Path, systemctl: FakeSystemctl | None) -> tuple[ServiceManager, list[str]]:
    shown: list[str] = []
    manager = ServiceManager(tmp_path / "systemd" / "user", runner=systemctl or FakeSystemctl(),
                             which=lambda name: "/usr/bin/systemctl" if systemctl else None, show=shown.append)
    return manager, shown


def test_unit_restarts_on_failure_logs_to_the_journal_and_starts_at_login(tmp_path: Path) -> None:
    text = unit_text(["/opt/tingle env/bin/tingle", "listen", "--region", "GB"], Path("/opt/tingle"))
    assert text.startswith(MARKER + "\n")
    lines = text.splitlines()
    for wanted in ("Restart=on-failure", "StandardOutput=journal", "StandardError=journal",
                   "WantedBy=default.target", "SuccessExitStatus=129 143", "WorkingDirectory=/opt/tingle",
                   'ExecStart="/opt/tingle env/bin/tingle" listen --region GB'):
        assert wanted in lines


def test_unit_passes_systemds_own_check(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / UNIT_NAME
    unit.write_text(unit_text(listen_command(["--wake-phrase", "hey-jarvis"]), Path(__file__).parent.parent))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_quoting_for_execstart() -> None:
    assert quote("plain") == "plain"
    assert quote("a b") == '"a b"'
    assert quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert quote("100%") == "100%%" and quote("$HOME") == "$$HOME"


def test_install_writes_the_unit_and_enables_it(tmp_path: Path) -> None:
    systemctl = FakeSystemctl()
    manager, shown = _manager(tmp_path, systemctl)
    assert manager.install(["/x/tingle", "listen"], Path("/x")) == 0
    assert manager.path.read_text().startswith(MARKER)
    assert manager.path.stat().st_mode & 0o777 == 0o644
    assert systemctl.ran == [["systemctl", "--user", "daemon-reload"],
                             ["systemctl", "--user", "enable", "--now", UNIT_NAME]]
    assert any("journalctl --user -u tingle" in line for line in shown)


def test_without_systemctl_it_says_what_to_run(tmp_path: Path) -> None:
    manager, shown = _manager(tmp_path, None)
    assert manager.install(["/x/tingle", "listen"], Path("/x")) == 0
    assert manager.path.exists()
    assert any("systemctl --user daemon-reload && systemctl --user enable --now tingle.service" in line
               for line in shown)


def test_a_failing_systemctl_is_reported_with_the_commands(tmp_path: Path) -> None:
    manager, shown = _manager(tmp_path, FakeSystemctl(fail="enable"))
    assert manager.install(["/x/tingle", "listen"], Path("/x")) == 1
    assert any("Failed to connect to bus" in line and "enable --now" in line for line in shown)


def test_a_unit_we_did_not_write_is_never_replaced_or_removed(tmp_path: Path) -> None:
    manager, _ = _manager(tmp_path, FakeSystemctl())
    manager.directory.mkdir(parents=True)
    manager.path.write_text("[Service]\nExecStart=/bin/true\n")
    with pytest.raises(ServiceError, match="--force"):
        manager.install(["/x/tingle", "listen"], Path("/x"))
    with pytest.raises(ServiceError, match="not written by tingle"):
        manager.uninstall()
    assert manager.install(["/x/tingle", "listen"], Path("/x"), force=True) == 0


def test_uninstall_disables_and_removes(tmp_path: Path) -> None:
    systemctl = FakeSystemctl()
    manager, shown = _manager(tmp_path, systemctl)
    manager.install(["/x/tingle", "listen"], Path("/x"), enable=False)
    assert manager.uninstall() == 0
    assert not manager.path.exists()
    assert ["systemctl", "--user", "disable", "--now", UNIT_NAME] in systemctl.ran
    assert manager.uninstall() == 0 and "Nothing to remove" in shown[-1]


def test_entry_points_use_xdg_config_home_and_check_the_listen_options(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no systemctl: only the file is written
    assert unit_dir() == tmp_path / "config" / "systemd" / "user"
    assert install_main(["--wake-phrase", "hey-jarvis", "--region", "GB"]) == 0
    unit = (tmp_path / "config" / "systemd" / "user" / UNIT_NAME).read_text()
    assert "listen --wake-phrase hey-jarvis --region GB" in unit
    with pytest.raises(SystemExit):
        install_main(["--wake-phrase", "hey-tingle"])  # a typo is caught now, not at login
    with pytest.raises(ServiceError, match="microphone"):
        install_main(["--audio-in", "a.wav"])
    with pytest.raises(ModelError, match=rf"no speech model at {tmp_path / 'absent'}.*scripts/setup"):
        install_main(["--model", str(tmp_path / "absent")])  # a unit was written with it, failing at login
    with pytest.raises(ModelError, match=r"no speech model at .*/models/absent"):
        install_main(["--model", "models/absent"])  # relative: to the unit's working folder, the project
    assert "--model" not in (tmp_path / "config" / "systemd" / "user" / UNIT_NAME).read_text()
    assert uninstall_main([]) == 0
    assert not (tmp_path / "config" / "systemd" / "user" / UNIT_NAME).exists()
