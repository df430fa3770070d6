"""One process-wide cache of unwrapped patient keys per database and master key set (bot.compliance.crypto).

Every cipher of the process with the default settings (tracker store, appointments, consent …) shares it,
so a patient's key is read from the database once per process, not once per component and message;
shredding through any of them (or ARCO) drops it everywhere at once.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from bot.compliance.crypto import PatientCipher, forget_everywhere
from bot.compliance.keyring import Keyring
from bot.errors import ComplianceError

REF = "a" * 64


def _drop_key_rows(engine: Engine) -> None:
    with engine.begin() as conn:  # behind every cache's back (as another process would)
        conn.execute(text("DELETE FROM patient_keys"))


def test_ciphers_of_one_database_and_keyring_share_the_cache(engine: Engine) -> None:
    keyring = Keyring.generate()
    writer, reader = PatientCipher(engine, keyring), PatientCipher(engine, keyring)
    token = writer.encrypt(REF, "hola")
    _drop_key_rows(engine)
    assert reader.decrypt(REF, token) == "hola"  # from the shared cache: no database read
    forget_everywhere(REF)
    with pytest.raises(ComplianceError):
        reader.decrypt(REF, token)


def test_another_keyring_or_private_settings_do_not_share(engine: Engine) -> None:
    keyring = Keyring.generate()
    token = PatientCipher(engine, keyring).encrypt(REF, "hola")
    with pytest.raises(ComplianceError):  # other master keys: the wrapped key does not unwrap
        PatientCipher(engine, Keyring.generate()).decrypt(REF, token)
    private = PatientCipher(engine, keyring, cache_ttl=0.0)
    _drop_key_rows(engine)
    with pytest.raises(ComplianceError):
        private.decrypt(REF, token)


def test_shred_through_one_cipher_reaches_the_others(engine: Engine) -> None:
    keyring = Keyring.generate()
    first, second = PatientCipher(engine, keyring), PatientCipher(engine, keyring)
    token = first.encrypt(REF, "hola")
    assert second.decrypt(REF, token) == "hola"
    assert first.shred(REF, actor="staff:test")
    with pytest.raises(ComplianceError):
        second.decrypt(REF, token)
