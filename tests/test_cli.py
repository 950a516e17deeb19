"""The `kam` command: createuser, check, migrate, serve (operators' entry points)."""

import os
import signal
import sys
import threading
import time

import pytest

from kam import cli
from kam.org.models import DataScope, Department, Role, User


def test_createuser_creates_the_department_path_and_defaults_the_scope(db, monkeypatch, capsys):
    monkeypatch.setenv("KAM_PASSWORD", "Kam-cli-pass-2026")
    assert cli.main(["createuser", "chen", "--role", "ka_head", "--department", "总公司/华东分公司/大客户部"]) == 0
    user = User.objects.get(username="chen")
    assert user.role == Role.KA_HEAD and user.data_scope == DataScope.SUBTREE
    assert user.department.name == "大客户部" and user.department.parent.name == "华东分公司"
    assert user.check_password("Kam-cli-pass-2026")
    assert user.password.startswith("argon2")
    assert (
        cli.main(
            [
                "createuser",
                "li",
                "--role",
                "ka_manager",
                "--department",
                "总公司/华东分公司/大客户部",
                "--scope",
                "department",
            ]
        )
        == 0
    )
    assert User.objects.get(username="li").data_scope == DataScope.DEPARTMENT
    assert Department.objects.filter(name="大客户部").count() == 1


def test_createuser_refuses_a_weak_password_and_a_duplicate_name(db, monkeypatch, capsys):
    monkeypatch.setenv("KAM_PASSWORD", "123")
    assert cli.main(["createuser", "weak", "--role", "finance", "--department", "总公司"]) == 2
    assert "password" in capsys.readouterr().err.lower() or not User.objects.filter(username="weak").exists()
    monkeypatch.setenv("KAM_PASSWORD", "Kam-cli-pass-2026")
    assert cli.main(["createuser", "dup", "--role", "finance", "--department", "总公司"]) == 0
    assert cli.main(["createuser", "dup", "--role", "finance", "--department", "总公司"]) == 2


def test_createuser_rejects_unknown_role(db):
    with pytest.raises(SystemExit):
        cli.main(["createuser", "x", "--role", "boss", "--department", "总公司"])


def test_admin_role_can_use_the_admin_screens(db, monkeypatch):
    monkeypatch.setenv("KAM_PASSWORD", "Kam-cli-pass-2026")
    cli.main(["createuser", "root", "--role", "admin", "--department", "总公司"])
    user = User.objects.get(username="root")
    assert user.is_staff and user.is_superuser and user.data_scope == DataScope.ALL


def test_check_passes_on_a_sane_configuration(db, capsys):
    assert cli.main(["check"]) == 0
    assert "database" in capsys.readouterr().out


def test_serve_runs_the_server_and_a_worker_together(monkeypatch):
    started = {}
    monkeypatch.setattr(cli, "cmd_migrate", lambda args: 0)
    monkeypatch.setattr(cli, "run_together", lambda commands: started.update(commands) or 0)
    monkeypatch.delenv("KAM_SERVE_WORKER", raising=False)
    assert cli.main(["serve", "--port", "8123"]) == 0
    assert started["gunicorn"][2:4] == ["gunicorn", "kam.wsgi:application"] and "127.0.0.1:8123" in started["gunicorn"]
    assert started["worker"][1:] == ["-m", "kam.cli", "worker"]


@pytest.mark.parametrize(("flag", "env"), [(["--no-worker"], None), ([], "false")])
def test_serve_without_a_worker_replaces_itself_with_gunicorn(monkeypatch, flag, env):
    class Exec(Exception):
        pass

    def execv(path, argv):
        raise Exec(argv)

    monkeypatch.setattr(cli, "cmd_migrate", lambda args: 0)
    monkeypatch.setattr(cli.os, "execv", execv)
    if env:
        monkeypatch.setenv("KAM_SERVE_WORKER", env)
    with pytest.raises(Exec) as exec_:
        cli.main(["serve", *flag])
    assert exec_.value.args[0][2:4] == ["gunicorn", "kam.wsgi:application"]


def _child(body: str) -> list[str]:
    return [sys.executable, "-c", body]


def test_serve_stops_the_server_when_the_worker_dies_and_fails(capsys):
    status = cli.run_together(
        {"gunicorn": _child("import time; time.sleep(60)"), "worker": _child("raise SystemExit(3)")}
    )
    assert status == 3
    assert "worker ended (status 3)" in capsys.readouterr().err


def test_serve_passes_sigterm_on_and_ends_cleanly(tmp_path):
    ready = tmp_path / "ready"
    ready.mkdir()
    # Each child exits 0 on SIGTERM; it says it is ready once its handler is in place.
    body = (
        "import signal, sys, time, pathlib; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0));"
        f"pathlib.Path({str(ready)!r}, sys.argv[1]).touch(); time.sleep(60)"
    )

    def stop_when_ready():
        give_up = time.monotonic() + 30
        while len(list(ready.iterdir())) < 2 and time.monotonic() < give_up:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_when_ready, daemon=True).start()
    assert cli.run_together({"a": [*_child(body), "a"], "b": [*_child(body), "b"]}) == 0
