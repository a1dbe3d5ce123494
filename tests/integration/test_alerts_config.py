"""[telegram] and [alerts] are checked at start; errors name the setting and never a secret."""

from __future__ import annotations

import pytest

from alerts_support import make_cfg
from fakes.telegram import TOKEN
from leakwatch.alerts import settings, validate
from leakwatch.config import load_config
from leakwatch.errors import ConfigError
from leakwatch.models import Severity


def cfg_from(tmp_path, text: str, env: dict | None = None):
    path = tmp_path / "lw.toml"
    path.write_text(text)
    return load_config(path, env=env or {})


def token(tmp_path, value: str = TOKEN) -> str:
    path = tmp_path / "tg-token"
    path.write_text(value)
    return str(path)


def test_a_good_configuration_and_none_at_all_both_validate(tmp_path):
    """A full [telegram] + [alerts] passes; so does a configuration without either (log only)."""
    validate(make_cfg(tmp_path, "http://127.0.0.1:1"))
    st = settings(cfg_from(tmp_path, ""))
    assert st.telegram is None and st.alerts.page_threshold == Severity.HIGH
    assert st.routes() == [(a, "log", None) for a in ("critical", "high", "ops", "escalation")]
    secret = tmp_path / "hmac"
    secret.write_text("k")
    hooked = settings(cfg_from(tmp_path, f'[alerts]\nwebhook_url = "https://siem.example/h"\n'
                                         f'webhook_secret_file = "{secret}"\n'))
    assert hooked.routes()[:2] == [("critical", "log", None), ("critical", "webhook", None)]


@pytest.mark.parametrize("body, message", [
    ('token_file = "/nonexistent/tg"\nchats = { high = [1] }', "[telegram] token_file: file not found"),
    ('chats = { high = [1] }', "[telegram] token_file: required"),
    ('token_file = "TOKEN"', "[telegram] chats: required"),
    ('token_file = "TOKEN"\nchats = { pager = [1] }', "[telegram] chats.pager: unknown audience"),
    ('token_file = "TOKEN"\nchats = { high = ["abc"] }', "[telegram] chats.high: chat ids are whole numbers"),
    ('token_file = "TOKEN"\nchats = { ops = [1] }', "[telegram] chats: needs at least `high` or `critical`"),
    ('token_file = "TOKEN"\nchats = { high = [1] }\ntokn = 1', "[telegram] tokn: unknown setting"),
    ('token_file = "TOKEN"\nchats = { high = [1] }\nallowed_users = [-5]', "[telegram] allowed_users:"),
    ('token_file = "TOKEN"\nchats = { high = [1] }\nupdates = "push"', "[telegram] updates: 'push' is not one of"),
    ('token_file = "TOKEN"\nchats = { high = [1] }\nupdates = "webhook"\nwebhook_url = "http://x.example/h"',
     "[telegram] webhook_url: Telegram delivers webhooks to https URLs only"),
    ('token_file = "TOKEN"\nchats = { high = [1] }\nupdates = "webhook"', "[telegram] webhook_url: required"),
    ('token_file = "TOKEN"\nchats = { high = [1] }\nrequest_timeout = "soon"', "[telegram] request_timeout: expected"),
])
def test_telegram_errors_name_the_setting(tmp_path, body, message):
    """Each mistake in [telegram] is reported by its setting."""
    cfg = cfg_from(tmp_path, "[telegram]\n" + body.replace("TOKEN", token(tmp_path)) + "\n")
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert message in str(err.value)


@pytest.mark.parametrize("body, message", [
    ('page_threshold = "low"', "[alerts] page_threshold: must be medium, high or critical"),
    ('page_threshold = "severe"', "[alerts] page_threshold: unknown severity"),
    ('escalate_max = 1.5', "[alerts] escalate_max: expected a whole number"),
    ('escalate_after_minutes = -1', "[alerts] escalate_after_minutes: must be at least"),
    ('webhook_url = "https://siem.example/hook"', "[alerts] webhook_secret_file: expected a file path"),
    ('webhook_url = "ftp://siem.example/hook"', "[alerts] webhook_url: 'ftp://siem.example/hook' is not"),
    ('webhook_secret_file = "/x"', "[alerts] webhook_secret_file: set, but [alerts] webhook_url is not"),
    ('repost_similarity = 2', "[alerts] repost_similarity: must be between"),
    ('retry_min_seconds = 5\nretry_max_seconds = 1', "[alerts] retry_max_seconds: must be at least"),
    ('escalate = 3', "[alerts] escalate: unknown setting"),
])
def test_alerts_errors_name_the_setting(tmp_path, body, message):
    """Each mistake in [alerts] is reported by its setting."""
    with pytest.raises(ConfigError) as err:
        validate(cfg_from(tmp_path, "[alerts]\n" + body + "\n"))
    assert message in str(err.value)


def test_a_file_that_is_not_a_token_is_refused_without_quoting_it(tmp_path):
    """The token file's content never appears in the error."""
    cfg = cfg_from(tmp_path, f'[telegram]\ntoken_file = "{token(tmp_path, "hunter2-secret-value")}"\n'
                             "chats = { high = [1] }\n")
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert "[telegram] token_file: the file does not hold a bot token" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_chats_fall_back_and_environment_overrides(tmp_path):
    """Only `high` given: the other audiences use it. LEAKWATCH_ALERTS_* / LEAKWATCH_TELEGRAM_* override."""
    text = f'[telegram]\ntoken_file = "{token(tmp_path)}"\nchats = {{ high = [-1001] }}\n[alerts]\nescalate_max = 2\n'
    st = settings(cfg_from(tmp_path, text), env={"LEAKWATCH_ALERTS_ESCALATE_MAX": "7",
                                                 "LEAKWATCH_TELEGRAM_ALLOWED_USERS": "11,12"})
    assert dict(st.telegram.chats) == {"high": (-1001,), "critical": (-1001,), "escalation": (-1001,), "ops": (-1001,)}
    assert st.alerts.escalate_max == 7 and st.telegram.allowed_users == {11, 12}
    with pytest.raises(ConfigError, match=r"\[telegram\] token_file: file not found"):
        settings(cfg_from(tmp_path, text), env={"LEAKWATCH_TELEGRAM_TOKEN_FILE": "/nonexistent"})
    assert TOKEN not in repr(st)


def test_the_finding_hook_needs_no_secret_files(tmp_path):
    """The match role builds its hook from [alerts] alone: no token or webhook secret is read."""
    from leakwatch.alerts import finding_hook

    cfg = cfg_from(tmp_path, '[telegram]\ntoken_file = "/nonexistent"\nchats = { high = [1] }\n'
                             '[alerts]\npage_threshold = "critical"\nwebhook_url = "https://siem.example/h"\n'
                             'webhook_secret_file = "/nonexistent"\nrepost_similarity = 0.8\n')
    hook = finding_hook(cfg, env={})
    assert hook.keywords == {"threshold": 4, "similarity": 0.8, "window_days": 30}
