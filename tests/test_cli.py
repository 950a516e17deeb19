"""The `kam` command: createuser, check, migrate (operators' entry points)."""

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
