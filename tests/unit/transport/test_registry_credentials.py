"""Docker config.json credentials: auths, identity tokens, credential helpers (a real subprocess), store/erase."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import CredentialsError
from dockyard.transport.registry.credentials import Credentials, DockerConfig, default_config_path, parse_auth_entry


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write(tmp_path: Path, data: Any) -> DockerConfig:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return DockerConfig(path)


def test_auths_in_every_shape(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": b64("hubuser:hub:pass")},
                "http://reg.example:5000/v2/": {"username": "u2", "password": "p2"},
                "tok.example": {"auth": "", "identitytoken": "refresh-me"},
                "127.0.0.1:5000": {"auth": b64("local:pw")},
            },
            "HttpHeaders": {"X-Keep": "me"},
        },
    )
    assert config.get("docker.io") == Credentials("hubuser", "hub:pass")  # split at the first colon
    assert config.get("index.docker.io") == Credentials("hubuser", "hub:pass")
    assert config.get("reg.example:5000") == Credentials("u2", "p2")
    assert config.get("tok.example") == Credentials(identity_token="refresh-me")
    assert config.get("127.0.0.1:5000") == Credentials("local", "pw")
    assert config.get("nowhere.example") is None
    assert "hub:pass" not in repr(config.get("docker.io"))


def test_missing_and_broken_files(tmp_path: Path) -> None:
    assert DockerConfig(tmp_path / "absent.json").get("docker.io") is None
    with pytest.raises(CredentialsError, match="not valid JSON"):
        write(tmp_path, "{nope").get("docker.io")
    with pytest.raises(CredentialsError, match="not base64"):
        parse_auth_entry({"auth": "***"})
    with pytest.raises(CredentialsError, match="user:password"):
        parse_auth_entry({"auth": b64("no-colon")})


def test_default_path_follows_DOCKER_CONFIG(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", os.fspath(tmp_path))
    assert default_config_path() == tmp_path / "config.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    assert default_config_path() == Path.home() / ".docker" / "config.json"


def test_store_and_erase_keep_other_keys(tmp_path: Path) -> None:
    config = write(tmp_path, {"auths": {"other.example": {"auth": b64("o:p")}}, "psFormat": "table {{.ID}}"})
    config.store("docker.io", "me", "secret")
    config.store("127.0.0.1:5000", "local", "pw")
    data = json.loads(config.path.read_text())
    assert data["psFormat"] == "table {{.ID}}"
    assert data["auths"]["https://index.docker.io/v1/"] == {"auth": b64("me:secret")}
    assert data["auths"]["127.0.0.1:5000"] == {"auth": b64("local:pw")}
    assert data["auths"]["other.example"] == {"auth": b64("o:p")}
    assert stat.S_IMODE(config.path.stat().st_mode) == 0o600
    assert config.path.read_text().startswith('{\n\t"auths"')  # tab-indented, as Docker writes it
    assert config.get("docker.io") == Credentials("me", "secret")
    assert config.erase("docker.io") is True
    assert config.erase("docker.io") is False
    assert config.get("docker.io") is None
    assert set(json.loads(config.path.read_text())["auths"]) == {"127.0.0.1:5000", "other.example"}


def test_store_creates_the_file(tmp_path: Path) -> None:
    config = DockerConfig(tmp_path / "new" / "config.json")
    config.store("reg.example", "u", "p")
    assert json.loads(config.path.read_text()) == {"auths": {"reg.example": {"auth": b64("u:p")}}}


# --------------------------------------------------------------------------- credential helpers

HELPER = """#!{python}
import json, os, sys
store = os.environ["FAKE_HELPER_STORE"]
data = json.load(open(store)) if os.path.exists(store) else {{}}
action = sys.argv[1]
payload = sys.stdin.read()
with open(store + ".log", "a") as log:
    log.write(action + " " + payload.strip().replace("\\n", " ") + "\\n")
if action == "get":
    url = payload.strip()
    if url == "broken.example":
        print("the keychain is locked")
        sys.exit(1)
    if url not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": url, "Username": data[url][0], "Secret": data[url][1]}}))
elif action == "store":
    item = json.loads(payload)
    data[item["ServerURL"]] = [item["Username"], item["Secret"]]
    json.dump(data, open(store, "w"))
elif action == "erase":
    url = payload.strip()
    if url not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    del data[url]
    json.dump(data, open(store, "w"))
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``docker-credential-test`` on PATH, keeping its secrets in a JSON file; returns that file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "docker-credential-test"
    script.write_text(HELPER.format(python=sys.executable))
    script.chmod(0o755)
    store = tmp_path / "helper-store.json"
    store.write_text(
        json.dumps({"https://index.docker.io/v1/": ["hub", "hubpw"], "tok.example": ["<token>", "refresh-123"]})
    )
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_HELPER_STORE", os.fspath(store))
    return store


def test_creds_store_helper(tmp_path: Path, helper: Path) -> None:
    config = write(tmp_path, {"credsStore": "test", "auths": {"https://index.docker.io/v1/": {}}})
    assert config.get("docker.io") == Credentials("hub", "hubpw")
    assert config.get("tok.example") == Credentials(identity_token="refresh-123")
    assert config.get("unknown.example") is None  # "credentials not found": no credentials, not an error
    with pytest.raises(CredentialsError, match="docker-credential-test get failed: the keychain is locked"):
        config.get("broken.example")
    log = Path(os.fspath(helper) + ".log").read_text().splitlines()
    assert log[0] == "get https://index.docker.io/v1/"  # Docker Hub's server URL on stdin


def test_cred_helpers_win_over_creds_store_and_auths(tmp_path: Path, helper: Path) -> None:
    config = write(
        tmp_path,
        {
            "credsStore": "absent-helper",
            "credHelpers": {"docker.io": "test"},
            "auths": {"https://index.docker.io/v1/": {"auth": b64("file:pw")}, "plain.example": {"auth": b64("a:b")}},
        },
    )
    assert config.get("docker.io") == Credentials("hub", "hubpw")
    with pytest.raises(CredentialsError, match="docker-credential-absent-helper is not installed"):
        config.get("plain.example")  # credsStore applies to every other registry


def test_store_and_erase_through_the_helper(tmp_path: Path, helper: Path) -> None:
    config = write(tmp_path, {"credHelpers": {"reg.example": "test"}, "auths": {}, "detachKeys": "ctrl-x"})
    config.store("reg.example", "u", "pw")
    assert json.loads(helper.read_text())["reg.example"] == ["u", "pw"]
    data = json.loads(config.path.read_text())
    assert data["auths"] == {"reg.example": {}}  # no secret in the file
    assert data["detachKeys"] == "ctrl-x"
    assert config.get("reg.example") == Credentials("u", "pw")
    assert config.erase("reg.example") is True
    assert "reg.example" not in json.loads(helper.read_text())
    assert config.get("reg.example") is None


def test_store_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "docker-config.json"
    real.parent.mkdir()
    real.write_text('{"auths": {}, "psFormat": "table"}')
    real.chmod(0o640)
    link_dir = tmp_path / "home" / ".docker"
    link_dir.mkdir(parents=True)
    (link_dir / "config.json").symlink_to(real)
    DockerConfig(link_dir / "config.json").store("reg.example", "u", "p")
    assert (link_dir / "config.json").is_symlink()  # still the user's link
    data = json.loads(real.read_text())
    assert data["psFormat"] == "table" and "reg.example" in data["auths"]
    assert real.stat().st_mode & 0o777 == 0o600  # credentials: owner only, whatever the file was
