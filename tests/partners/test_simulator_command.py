"""`manage.py partner_simulator` is the simulator's CLI behind Django's command runner."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_manage_py_partner_simulator_serves_until_terminated():
    env = {**os.environ, "ODR_VAR_DIR": "/tmp/escrow-var"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "partner_simulator", "--port", "0", "--secret", "whsec_cmd",
         "--mode", "async"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("listening on http://127.0.0.1:")
        url = first.removeprefix("listening on ")
        with urllib.request.urlopen(f"{url}/_control", timeout=5) as response:  # noqa: S310
            assert json.load(response)["mode"] == "async"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
