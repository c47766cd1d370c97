from __future__ import annotations

import threading
from pathlib import Path

import pytest

from qa_service.access import KeyStore, Scope
from qa_service.errors import InvalidRequest, NotFound


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "access.sqlite")


def test_a_key_authenticates_with_its_scope_and_knowledge_bases(store: KeyStore) -> None:
    info, key = store.create(["hr", "ops", "hr"], Scope.WRITE)
    principal = store.authenticate(key)
    assert principal is not None and not principal.admin
    assert principal.key_id == info.id and principal.kbs == {"hr", "ops"}
    assert principal.can_write("hr") and principal.can_see("ops")
    assert not principal.can_see("finance")
    assert info.kbs == ("hr", "ops")


def test_a_read_key_cannot_write(store: KeyStore) -> None:
    _, key = store.create(["hr"], Scope.READ)
    principal = store.authenticate(key)
    assert principal is not None and principal.can_see("hr") and not principal.can_write("hr")


@pytest.mark.parametrize("mangle", [
    lambda k: k[:-1], lambda k: k + "x", lambda k: k.upper(), lambda k: k[:16],
    lambda k: "", lambda k: " " + k, lambda k: k.replace("qa_", "qb_", 1),
])
def test_anything_but_the_exact_key_is_refused(store: KeyStore, mangle) -> None:  # type: ignore[no-untyped-def]
    _, key = store.create(["hr"], Scope.READ)
    assert store.authenticate(mangle(key)) is None


def test_a_key_of_another_id_with_a_valid_secret_is_refused(store: KeyStore) -> None:
    first, key = store.create(["hr"], Scope.READ)
    second, _ = store.create(["ops"], Scope.READ)
    assert store.authenticate(key.replace(first.id, second.id)) is None


def test_revoking_is_immediate_and_visible_to_other_store_objects(tmp_path: Path) -> None:
    one, other = KeyStore(tmp_path / "a.sqlite"), KeyStore(tmp_path / "a.sqlite")
    info, key = one.create(["hr"], Scope.READ)
    assert other.authenticate(key) is not None
    revoked = other.revoke(info.id)
    assert revoked.revoked_at is not None
    assert one.authenticate(key) is None
    with pytest.raises(NotFound):
        one.revoke("000000000000")


def test_the_generated_admin_key_is_made_once(store: KeyStore, tmp_path: Path) -> None:
    key = store.ensure_admin()
    assert key is not None and key.startswith("qa_admin_")
    assert store.ensure_admin() is None
    assert KeyStore(tmp_path / "access.sqlite").ensure_admin() is None
    principal = store.authenticate(key)
    assert principal is not None and principal.admin and principal.can_write("anything")
    newer = store.rotate_admin()
    assert store.authenticate(key) is None and store.authenticate(newer) is not None


def test_a_configured_admin_key_wins_and_nothing_is_generated(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "access.sqlite", admin_key="configured-admin-key-123")
    assert store.ensure_admin() is None
    admin = store.authenticate("configured-admin-key-123")
    assert admin is not None and admin.admin
    assert store.authenticate("configured-admin-key-12") is None


def test_concurrent_first_starts_make_one_admin_key(tmp_path: Path) -> None:
    keys: list[str | None] = []
    threads = [threading.Thread(target=lambda: keys.append(
        KeyStore(tmp_path / "access.sqlite").ensure_admin())) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len([k for k in keys if k is not None]) == 1


def test_forgetting_a_knowledge_base_takes_it_out_of_every_key(store: KeyStore) -> None:
    _, both = store.create(["hr", "ops"], Scope.WRITE)
    _, only = store.create(["hr"], Scope.READ)
    store.forget_kb("hr")
    principal = store.authenticate(both)
    assert principal is not None and principal.kbs == {"ops"}
    lonely = store.authenticate(only)
    assert lonely is not None and not lonely.can_see("hr")
    assert [i.kbs for i in store.infos()] == [("ops",), ()]


def test_a_key_needs_a_knowledge_base(store: KeyStore) -> None:
    with pytest.raises(InvalidRequest):
        store.create([], Scope.READ)
