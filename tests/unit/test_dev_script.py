"""deploy/dev.sh keeps its secrets private: `.callscope-dev/env` holds the JWT keys and the
secret key, and was written world-readable (issue 16, finding 7)."""
from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (ROOT / "deploy" / "dev.sh").read_text()


def private_file_function() -> str:
    match = re.search(r"^private_file\(\) \{\n.*?^\}\n", SCRIPT, re.S | re.M)
    assert match, "deploy/dev.sh defines private_file()"
    return match.group(0)


def test_files_with_secrets_are_written_through_private_file():
    assert re.search(r'\} \| private_file "\$STATE/env"', SCRIPT)
    assert re.search(r'\} \| private_file "\$STATE/secrets"', SCRIPT)
    assert not re.search(r'>\s*"\$STATE/(env|secrets)"', SCRIPT)  # no other writer


def test_private_file_is_0600_even_over_an_old_world_readable_file(tmp_path):
    target = tmp_path / "env"
    target.write_text("old")
    target.chmod(0o644)
    subprocess.run(["bash", "-c", f'umask 022\n{private_file_function()}\necho "CALLSCOPE_SECRET_KEY=s" | '
                    f'private_file "{target}"'], check=True)
    assert target.read_text() == "CALLSCOPE_SECRET_KEY=s\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["env"]  # no temporary file left behind
