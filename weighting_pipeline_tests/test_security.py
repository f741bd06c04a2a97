"""Security promises of docs/security.md, checked on the repository itself."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from weighting_pipeline_tests.listening import (
    assert_listens_on_loopback_only,
    is_loopback,
    listening_addresses,
    listening_sockets,
)

REPO = Path(__file__).resolve().parent.parent

# AWS key ids, secret keys next to their name, and PEM private keys.
KEY_PATTERNS = {
    "AWS access key id": re.compile(
        r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Z0-9])"
    ),
    "AWS secret access key": re.compile(
        r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
    ),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
}


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / p for p in out.decode().split("\0") if p]


def key_findings(text: str) -> list[str]:
    return [name for name, pattern in KEY_PATTERNS.items() if pattern.search(text)]


def test_the_key_patterns_catch_real_looking_keys():
    # Built at run time so this file itself holds no match.
    key_id = "AKIA" + "IOSFODNN7EXAMPLE"
    secret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
    assert key_findings(f"aws_access_key_id = {key_id}") == ["AWS access key id"]
    assert key_findings(f'AWS_SECRET_ACCESS_KEY="{secret}"') == ["AWS secret access key"]
    assert key_findings("-----BEGIN " + "RSA PRIVATE KEY-----") == ["private key"]
    assert key_findings("AWS_SECRET_ACCESS_KEY=testing") == []


def test_no_credentials_in_the_repository():
    files = tracked_files()
    assert len(files) > 50, "git ls-files found too few files to be this repository"
    found = {}
    for path in files:
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        hits = key_findings(text)
        if hits:
            found[str(path.relative_to(REPO))] = hits
    assert found == {}


def test_listening_addresses_tells_loopback_from_any_address():
    with socket.socket() as local, socket.socket(socket.AF_INET6) as anywhere:
        local.bind(("127.0.0.1", 0))
        local.listen()
        anywhere.bind(("::", 0))
        anywhere.listen()
        assert {str(a) for a in listening_addresses(local.getsockname()[1])} == {"127.0.0.1"}
        assert {str(a) for a in listening_addresses(anywhere.getsockname()[1])} == {"::"}
        assert listening_sockets({os.getpid()}) >= {(ipaddress.ip_address("127.0.0.1"), local.getsockname()[1])}
    assert not is_loopback(ipaddress.ip_address("::")) and is_loopback(ipaddress.ip_address("::ffff:127.0.0.1"))


def test_dynamodb_local_listens_on_loopback_only(dynamodb_server):
    """It has no host option and listened on every interface until it was started
    through LoopbackDynamoDBLocal.java."""
    assert_listens_on_loopback_only(dynamodb_server.port)


def test_motos_server_listens_on_loopback_only(aws_server):
    assert_listens_on_loopback_only(aws_server.port)


def test_postgres_listens_on_loopback_only(postgres_server):
    assert_listens_on_loopback_only(postgres_server.port)


@pytest.mark.dynamodb  # needs Java, as DynamoDB Local does
def test_a_dynamodb_local_the_loopback_launcher_cannot_bind_fails_naming_what_moved(tmp_path, monkeypatch):
    """The launcher reaches DynamoDB Local's internals; a release that moves them must stop
    the start with the reason, not fall back to listening everywhere."""
    from weighting_pipeline_devtools import dynamodb_local

    (tmp_path / "DynamoDBLocal_lib").mkdir()  # a release without ServerRunner where the launcher looks
    monkeypatch.setattr(dynamodb_local, "install_dynamodb_local", lambda: tmp_path)
    with pytest.raises(RuntimeError) as failed:
        with dynamodb_local.LocalDynamoDB(backend="dynamodb-local"):
            pass
    message = str(failed.value)
    assert "exited with code 70" in message and "cannot be bound to 127.0.0.1" in message, message
    assert "ServerRunner.createServerFromCommandLineArgs" in message, message


@pytest.mark.dynamodb
def test_a_java_without_its_compiler_module_is_named_as_the_reason_dynamodb_local_cannot_start(monkeypatch):
    """Slimmed-down runtimes (jlink images) leave out jdk.compiler, which Java's source launcher needs."""
    from weighting_pipeline_devtools import dynamodb_local

    monkeypatch.setenv("JDK_JAVA_OPTIONS", "--limit-modules java.base")  # read by the java launcher
    with pytest.raises(RuntimeError) as failed:
        with dynamodb_local.LocalDynamoDB(backend="dynamodb-local"):
            pass
    assert "lacks the jdk.compiler module" in str(failed.value) and "--backend moto" in str(failed.value), failed.value


def _audit_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ci_audit", REPO / ".ci" / "audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_audit_fails_only_on_untriaged_runtime_advisories(capsys):
    audit = _audit_module()
    runtime = audit.runtime_closure()
    assert {"dagster", "pandas", "boto3", "botocore", "orjson"} <= runtime
    assert "hypothesis" not in runtime and "pytest" not in runtime  # dev extras are not runtime

    def report(name, vuln_id):
        return {"dependencies": [{"name": name, "version": "1.0", "vulns": [{"id": vuln_id, "fix_versions": ["1.1"]}]}]}

    assert audit.verdict(report("pytest", "GHSA-dev"), runtime, {}) == 0
    assert audit.verdict(report("Pandas", "GHSA-run"), runtime, {}) == 1
    assert audit.verdict(report("pandas", "GHSA-run"), runtime, {"GHSA-run": "not reachable from our code"}) == 0
    out = capsys.readouterr().out
    assert "FAILED" in out and "Pandas 1.0 GHSA-run" in out and "triaged: not reachable" in out
    assert (
        audit.verdict({"dependencies": [{"name": "pandas", "version": "1.0", "skip_reason": "offline"}]}, runtime, {})
        == 0
    )
    assert "NOT AUDITED" in capsys.readouterr().out
