"""lvspasswd: the piranha user's password from a prompt or standard input, never from argv."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db
GOOD = "correct-Horse-battery-9"


class FakeStdin(io.StringIO):
    def __init__(self, text: str, tty: bool = False) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def run(monkeypatch, *args, stdin: str = "", tty: bool = False) -> str:
    monkeypatch.setattr("sys.stdin", FakeStdin(stdin, tty))
    out = io.StringIO()
    call_command("lvspasswd", *args, stdout=out)
    return out.getvalue()


def test_it_creates_piranha_with_the_password_from_standard_input(monkeypatch):
    assert "created user piranha" in run(monkeypatch, stdin=GOOD + "\n")
    user = get_user_model().objects.get(username="piranha")
    assert user.check_password(GOOD)
    assert user.is_staff and user.is_superuser
    assert not user.password.startswith(GOOD)  # hashed


def test_it_changes_an_existing_password(monkeypatch):
    run(monkeypatch, stdin=GOOD + "\n")
    run(monkeypatch, stdin="another-Long-secret-7\n")
    assert get_user_model().objects.get(username="piranha").check_password("another-Long-secret-7")


def test_it_asks_twice_at_a_prompt(monkeypatch):
    answers = iter([GOOD, GOOD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    run(monkeypatch, tty=True)
    assert get_user_model().objects.get(username="piranha").check_password(GOOD)


def test_it_refuses_two_different_answers(monkeypatch):
    answers = iter([GOOD, GOOD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="differ"):
        run(monkeypatch, tty=True)
    assert not get_user_model().objects.exists()


def test_it_refuses_a_password_on_the_command_line(monkeypatch):
    with pytest.raises(CommandError, match="no password on the command line"):
        run(monkeypatch, GOOD, stdin=GOOD + "\n")
    assert not get_user_model().objects.exists()


def test_it_applies_the_password_validators(monkeypatch):
    with pytest.raises(CommandError, match="too short"):
        run(monkeypatch, stdin="abc\n")


def test_it_checks_whether_a_password_is_set(monkeypatch):
    with pytest.raises(CommandError) as caught:
        run(monkeypatch, "--check")
    assert caught.value.returncode == 1
    run(monkeypatch, stdin=GOOD + "\n")
    assert "has a password" in run(monkeypatch, "--check")


def test_there_is_no_default_password():
    assert not get_user_model().objects.filter(username="piranha").exists()
