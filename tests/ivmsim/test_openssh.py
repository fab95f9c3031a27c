"""OpenSSH's own client, with a pinned host key and a throw-away key in authorized_keys."""

from __future__ import annotations

import subprocess

from tests.simfleet import DEMO_FLEET, SimFleet


def test_openssh_client_runs_ivm_commands(tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with SimFleet(DEMO_FLEET, time_scale=200.0) as fleet:
        (fleet.state_dir / "ivm1" / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
        known = tmp_path / "known_hosts"
        known.write_text(fleet.known_hosts_line("ivm1") + "\n")
        e = fleet.ivm("ivm1")
        base = ["ssh", "-p", str(e["port"]), "-i", str(key), "-o", f"UserKnownHostsFile={known}",
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-o", "ConnectTimeout=10", f"padmin@{e['host']}"]
        run = subprocess.run([*base, 'lssyscfg -r lpar --filter "lpar_names=app01" -F name,state'],
                             capture_output=True, text=True, timeout=30)
        assert (run.returncode, run.stdout) == (0, "app01,Running\n"), run.stderr
        run = subprocess.run([*base, "lshmc -V"], capture_output=True, text=True, timeout=30)
        assert run.returncode == 127
        # a host key that does not match the pinned one is refused by the client
        known.write_text(fleet.known_hosts_line("ivm2").replace(fleet.ivm("ivm2")["host"], e["host"])
                         .replace(f":{fleet.ivm('ivm2')['port']}", f":{e['port']}") + "\n")
        run = subprocess.run([*base, "lssyscfg -r sys"], capture_output=True, text=True, timeout=30)
        assert run.returncode == 255 and "HOST IDENTIFICATION HAS CHANGED" in run.stderr
