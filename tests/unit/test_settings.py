"""Settings are read once from the environment and refuse bad values at start."""
from pathlib import Path

import pytest

from app.settings import SETTINGS_DOC, Settings, SettingsError, markdown_table

GOOD = {"CALLSCOPE_JWT_KEYS": "k1:" + "a" * 40, "CALLSCOPE_SECRET_KEY": "b" * 40}


def test_defaults_are_the_single_machine_setup():
    s = Settings.from_env(GOOD)
    assert s.storage == "local" and s.fetch_networks is None  # public-only SSRF guard by default
    assert s.max_recording_bytes == 200 * 1024 * 1024 and s.max_recording_seconds == 4 * 3600
    assert s.fetch_max_redirects == 3 and s.fetch_connect_timeout == 5 and s.fetch_read_timeout == 30
    assert s.stale_after_seconds == 600 and s.jwt_keys == (("k1", "a" * 40),)


def test_loopback_confinement_parses():
    s = Settings.from_env({**GOOD, "CALLSCOPE_FETCH_NETWORKS": "127.0.0.0/8, ::1/128"})
    assert [str(n) for n in s.fetch_networks] == ["127.0.0.0/8", "::1/128"]
    assert s.fetch_ports is None  # local test servers listen on any port


def test_fetch_ports_are_80_and_443_plus_the_named_ones():
    assert Settings.from_env(GOOD).fetch_ports == {80, 443}
    assert Settings.from_env({**GOOD, "CALLSCOPE_FETCH_PORTS": "8080, 8443"}).fetch_ports == {80, 443, 8080, 8443}
    assert Settings.from_env({**GOOD, "CALLSCOPE_FETCH_PORTS": "any"}).fetch_ports is None
    named = Settings.from_env({**GOOD, "CALLSCOPE_FETCH_NETWORKS": "10.0.0.0/8", "CALLSCOPE_FETCH_PORTS": "8000"})
    assert named.fetch_ports == {80, 443, 8000}  # named ports hold for listed networks too


@pytest.mark.parametrize("env,needle", [
    ({"CALLSCOPE_JWT_KEYS": ""}, "CALLSCOPE_JWT_KEYS"),
    ({"CALLSCOPE_JWT_KEYS": "k1:short"}, "shorter than 32"),
    ({"CALLSCOPE_JWT_KEYS": "nocolon"}, "CALLSCOPE_JWT_KEYS"),
    ({"CALLSCOPE_SECRET_KEY": "x"}, "CALLSCOPE_SECRET_KEY"),
    ({"CALLSCOPE_STORAGE": "ftp"}, "CALLSCOPE_STORAGE"),
    ({"CALLSCOPE_MAX_RECORDING_BYTES": "lots"}, "CALLSCOPE_MAX_RECORDING_BYTES"),
    ({"CALLSCOPE_FETCH_CONNECT_TIMEOUT_SECONDS": "0"}, "CALLSCOPE_FETCH_CONNECT_TIMEOUT_SECONDS"),
    ({"CALLSCOPE_FETCH_NETWORKS": "not-a-net"}, "CALLSCOPE_FETCH_NETWORKS"),
    ({"CALLSCOPE_FETCH_PORTS": "70000"}, "CALLSCOPE_FETCH_PORTS"),
    ({"CALLSCOPE_FETCH_PORTS": "http"}, "CALLSCOPE_FETCH_PORTS"),
    ({"CALLSCOPE_VISIBILITY_TIMEOUT_SECONDS": "100"}, "VISIBILITY_TIMEOUT"),
])
def test_bad_values_name_their_variable(env, needle):
    with pytest.raises(SettingsError, match=needle):
        Settings.from_env({**GOOD, **env})


def test_documented_settings_table_is_the_generated_one():
    """`python -m app.settings` prints the table; docs/configuration.md must carry it verbatim."""
    page = Path("docs/configuration.md").read_text(encoding="utf-8")
    assert markdown_table() in page, "docs/configuration.md settings table is stale: paste `python -m app.settings`"
    assert all(f"`{var}`" in page for _, var, _, _ in SETTINGS_DOC)
