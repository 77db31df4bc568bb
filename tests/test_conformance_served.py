"""The kit by URL with a credentials file, against ``eventdouble serve`` running as its own process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.servers import start_server

pytestmark = pytest.mark.slow


def conform(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventdouble", "conform", *args], capture_output=True, text=True, timeout=300
    )


def test_credentials_file_against_a_served_mock(tmp_path: Path) -> None:
    process, url, _ = start_server("--db", str(tmp_path / "mock.sqlite"))
    try:
        made = conform(
            "--target", url, "--provision-mock", "--write-credentials", str(tmp_path / "a"), "--expiring-in", "40"
        )
        assert made.returncode == 0, made.stderr
        full = conform("--target", url, "--credentials", str(tmp_path / "a" / "credentials.yaml"),
                       "--allow-destructive", "--max-examples", "5", "--seed", "7")  # fmt: skip
        assert full.returncode == 0, full.stdout + full.stderr
        assert "VERDICT: PASSED" in full.stdout and " 2 skipped" in full.stdout, full.stdout
        # a credentials file cannot disable or delete a credential: only the two revocation checks skip
        skipped = re.findall(r"\] SKIPPED +\S+ +(\S+)", full.stdout)  # the code, then the name
        assert set(skipped) == {"kosmos.revoked_license_refused", "tenduke.revoked_key_refused"}, full.stdout
        assert "needs --provision-mock" in full.stdout

        conform("--target", url, "--provision-mock", "--write-credentials", str(tmp_path / "b"))
        credentials = tmp_path / "b" / "credentials.yaml"
        data = yaml.safe_load(credentials.read_text())
        del data["kosmos"]["licenses"]["tenant"]  # one role gone (and no `expiring` in this file)
        credentials.write_text(yaml.safe_dump(data))
        partial = conform("--target", url, "--credentials", str(credentials), "--api", "kosmos",
                          "--max-examples", "5", "--allow-destructive")  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
    assert partial.returncode == 0, partial.stdout + partial.stderr
    skipped = {m[1]: m[0] for m in re.finditer(r"^\[.*\] SKIPPED +\S+ +(\S+).*$", partial.stdout, re.MULTILINE)}
    assert set(skipped) == {
        "kosmos.authz_tenant",
        "kosmos.replay_across_licenses",
        "kosmos.license_expiry_boundary",
        "kosmos.revoked_license_refused",
    }
    assert "needs kosmos.licenses.tenant in the credentials file" in skipped["kosmos.authz_tenant"]
    assert "kosmos: authorisation: partly skipped" in partial.stdout
