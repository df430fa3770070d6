"""``bot portal release|withdraw``: only an active physician or administrator; sealed; audited."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.cli import main


@pytest.fixture
def engine(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from bot import db

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BOT_ENV", "development")
    engine = db.get_engine(url)
    from bot.compliance.audit import AuditLog
    from bot.inbox.staff import StaffAccounts

    accounts = StaffAccounts(engine, audit=AuditLog(engine))
    accounts.add("dra.lopez", "Dra. López", "physician", "correcto-caballo-42")
    accounts.add("ana.r", "Ana Ruiz", "agent", "correcto-caballo-42")
    yield engine
    db.dispose_all()


def test_a_physician_releases_and_withdraws(engine: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.portal.tables import released_for

    ref = "d" * 64
    assert (
        main(
            [
                "portal",
                "release",
                ref,
                "--by",
                "dra.lopez",
                "--title",
                "Perfil tiroideo",
                "--text",
                "TSH 2.1 mUI/L",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "released document 1" in out and "TSH" not in out
    table = released_for("sqlite")
    with engine.connect() as conn:
        row = conn.execute(select(table)).one()
    assert row.patient_id == ref and "TSH" not in row.body and row.released_by == "staff:dra.lopez"
    assert main(["portal", "withdraw", "1", "--by", "dra.lopez"]) == 0
    with engine.connect() as conn:
        assert conn.execute(select(table.c.withdrawn_at)).scalar() is not None


@pytest.mark.parametrize("staff", ["ana.r", "nadie", "x y"])
def test_others_cannot_release(engine: Any, staff: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["portal", "release", "d" * 64, "--by", staff, "--title", "T", "--text", "X"]) == 2
    assert "error" in capsys.readouterr().err


def test_purge_deletes_spent_links(engine: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    import bot.portal.access as access_module
    from bot.compliance.audit import AuditLog
    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring
    from bot.portal.tables import portal_link

    keyring = Keyring.from_env(engine.url.render_as_string(hide_password=False))
    audit = AuditLog(engine)
    access = access_module.PortalAccess(engine, keyring, PatientCipher(engine, keyring, audit), audit)
    monkeypatch.setattr(access_module, "wall_clock", lambda: 1_000_000.0)
    access.issue_link("e" * 64, None)
    monkeypatch.setattr(access_module, "wall_clock", lambda: 1_000_000.0 + 3 * 86400)
    access.issue_link("e" * 64, None)
    assert main(["portal", "purge"]) == 0
    assert "links=1" in capsys.readouterr().out
    with engine.connect() as conn:
        assert len(conn.execute(select(portal_link)).all()) == 1


def test_retention_run_purges_the_portals_spent_links(engine: Any, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: Any) -> None:
    import bot.portal.access as access_module
    from bot.compliance.audit import AuditLog
    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring
    from bot.portal.tables import portal_link

    keyring = Keyring.from_env(engine.url.render_as_string(hide_password=False))
    audit = AuditLog(engine)
    access = access_module.PortalAccess(engine, keyring, PatientCipher(engine, keyring, audit), audit)
    monkeypatch.setattr(access_module, "wall_clock", lambda: 1_000_000.0)
    access.issue_link("e" * 64, None)
    monkeypatch.setattr(access_module, "wall_clock", time.time)  # the real clock: it expired long ago
    assert main(["retention", "run", "--dry-run"]) == 0
    assert "not purged (dry run)" in capsys.readouterr().out
    with engine.connect() as conn:
        assert len(conn.execute(select(portal_link)).all()) == 1
    assert main(["retention", "run"]) == 0
    assert "portal: purged 1 links" in capsys.readouterr().out
    with engine.connect() as conn:
        assert conn.execute(select(portal_link)).all() == []


def test_a_pdf_file_is_released_as_a_file_and_a_bad_one_refused(engine: Any, tmp_path: Any,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from bot.compliance.audit import AuditLog
    from bot.compliance.crypto import PatientCipher
    from bot.compliance.keyring import Keyring
    from bot.portal.records import ReleasedRecords

    pdf = tmp_path / "estudio.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    ref = "d" * 64
    released = ["portal", "release", ref, "--by", "dra.lopez", "--title", "Estudio", "--file", str(pdf)]
    assert main(released) == 0
    keyring = Keyring.from_env(engine.url.render_as_string(hide_password=False))
    audit = AuditLog(engine)
    [doc] = ReleasedRecords(engine, PatientCipher(engine, keyring, audit), audit).for_patient(ref)
    assert (doc.mime, doc.data) == ("application/pdf", pdf.read_bytes())
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["portal", "release", ref, "--by", "dra.lopez", "--title", "X", "--file", str(binary)]) == 2
    assert "error" in capsys.readouterr().err
