"""The IVM client against a real (in-process) SSH server: keys, auth, timeouts, reconnects, concurrency."""

from __future__ import annotations

import logging
import socket
import threading
import time

import paramiko
import pytest

from mobility.ivm import (
    AuthenticationFailed,
    ClientPool,
    Command,
    CommandFailed,
    CommandTimeout,
    ConnectionFailed,
    HostKey,
    HostKeyMismatch,
    HostKeyUnknown,
    InvalidValue,
    IVMClient,
    commands,
    scan_host_key,
)

from .sshd import FakeIVM, key_from_pem, new_ed25519_key, new_ed25519_pem, openssh_public


@pytest.fixture
def ivm():
    with FakeIVM() as server:
        yield server


def client_for(server: FakeIVM, **kw) -> IVMClient:
    kw.setdefault("password", server.password)
    kw.setdefault("host_key", server.public_key)
    kw.setdefault("backoff_s", 0.05)
    return IVMClient("127.0.0.1", server.port, server.username, **kw)


def test_pinned_key_is_accepted_and_output_parsed(ivm):
    with client_for(ivm) as client:
        result = client.run(commands.lssyscfg("lpar"), retry_safe=True)
    assert result.exit_status == 0
    rows = result.parsed()
    assert [r["name"] for r in rows] == ["06-0000A", "nim1"]
    assert rows[1]["os_version"] == "AIX 6.1 6100-00-01-0748"
    assert ivm.commands == ["lssyscfg -r lpar"]


def test_private_key_authentication(ivm):
    pem = new_ed25519_pem()
    ivm.authorized_key = key_from_pem(pem)
    with IVMClient("127.0.0.1", ivm.port, "padmin", private_key_pem=pem,
                   host_key=ivm.public_key) as client:
        assert client.run(commands.lssyscfg("lpar")).exit_status == 0


def test_scan_host_key_returns_the_offered_key_without_logging_in(ivm):
    key = scan_host_key("127.0.0.1", ivm.port, timeout=5)
    assert key.openssh == ivm.public_key
    assert key.fingerprint == HostKey.parse(ivm.public_key).fingerprint
    assert key.fingerprint.startswith("SHA256:")
    assert ivm.commands == []


def test_it_refuses_an_unpinned_server_and_carries_the_offered_key(ivm):
    client = client_for(ivm, host_key=None)
    with pytest.raises(HostKeyUnknown) as caught:
        client.run(commands.lssyscfg("lpar"))
    assert caught.value.key.openssh == ivm.public_key
    assert caught.value.fingerprint in str(caught.value)
    assert ivm.commands == []  # nothing was sent


def test_it_refuses_a_changed_host_key_naming_both_fingerprints():
    old_key, new_key = new_ed25519_key(), new_ed25519_key()
    with FakeIVM(host_key=new_key) as server:
        client = client_for(server, host_key=openssh_public(old_key))
        with pytest.raises(HostKeyMismatch) as caught:
            client.run(commands.lssyscfg("lpar"))
        old_fp = HostKey.parse(openssh_public(old_key)).fingerprint
        new_fp = HostKey.parse(openssh_public(new_key)).fingerprint
        assert caught.value.old_fingerprint == old_fp
        assert caught.value.new_fingerprint == new_fp
        assert old_fp in str(caught.value) and new_fp in str(caught.value)
        assert server.commands == []


def test_a_key_of_another_type_is_a_mismatch_too():
    ecdsa = paramiko.ECDSAKey.generate()
    with FakeIVM() as server:  # serves only an Ed25519 key
        client = client_for(server, host_key=openssh_public(ecdsa))
        with pytest.raises(HostKeyMismatch) as caught:
            client.connect()
        assert caught.value.offered.type == "ssh-ed25519"


def test_wrong_password_is_authentication_failed_and_not_retried(ivm):
    client = client_for(ivm, password="wrong", reconnect_attempts=3)
    with pytest.raises(AuthenticationFailed):
        client.run(commands.lssyscfg("lpar"), retry_safe=True)
    assert ivm.connections == 1


def test_nothing_listening_is_connection_failed_after_bounded_retries():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    client = IVMClient("127.0.0.1", port, "padmin", password="x", host_key=openssh_public(new_ed25519_key()),
                       reconnect_attempts=3, backoff_s=0.05)
    started = time.monotonic()
    with pytest.raises(ConnectionFailed):
        client.run(commands.lssyscfg("lpar"))
    assert time.monotonic() - started < 2


def test_a_slow_command_times_out(ivm):
    with client_for(ivm) as client:
        started = time.monotonic()
        with pytest.raises(CommandTimeout):
            client.run(Command(("sleep", "3")), timeout=0.5)
        assert time.monotonic() - started < 2
        # the transport survives a timed-out channel
        assert client.run(commands.lssyscfg("lpar")).exit_status == 0
        assert client.connects == 1


def test_non_zero_exit_with_a_vios_message_is_command_failed_with_its_code(ivm):
    with client_for(ivm) as client:
        cmd = commands.lslparmigr("lpar", lpar_names="ghost", fields=["migration_state"])
        with pytest.raises(CommandFailed) as caught:
            client.run(cmd)
        assert caught.value.code == "VIOSE010401A1-0042"
        assert caught.value.exit_status == 1
        assert caught.value.text == "Partition ghost was not found."
        unchecked = client.run(cmd, check=False)
        assert unchecked.exit_status == 1 and "VIOSE010401A1-0042" in unchecked.stderr


def test_command_not_found_has_no_code_but_keeps_the_text(ivm):
    with client_for(ivm) as client, pytest.raises(CommandFailed) as caught:
        client.run(Command(("lshmc", "-V")))
    assert caught.value.code is None and caught.value.exit_status == 127
    assert "not found" in caught.value.text


def test_large_output_and_stderr_are_both_collected(ivm):
    with client_for(ivm) as client:
        result = client.run(Command(("big", "3000000")))
    assert len(result.stdout) == 3_000_000 and result.stderr == "warning on stderr\n"


def test_retry_safe_command_reconnects_when_the_server_drops_the_transport(ivm):
    with client_for(ivm) as client:
        client.connect()
        ivm.drop_next = 1
        result = client.run(commands.lssyscfg("lpar"), retry_safe=True)
        assert result.exit_status == 0
        assert client.connects == 2
        assert ivm.commands == ["lssyscfg -r lpar", "lssyscfg -r lpar"]


def test_a_mutating_command_is_never_re_sent_after_the_transport_died(ivm):
    with client_for(ivm) as client:
        ivm.drop_next = 1
        cmd = commands.chsysstate("on", lpar_name="nim1")
        with pytest.raises(ConnectionFailed) as caught:
            client.run(cmd)
        assert caught.value.may_have_run
        assert ivm.commands == ["chsysstate -r lpar -o on -n nim1"]  # exactly once


def test_a_transport_closed_between_commands_is_reopened_for_any_command(ivm):
    with client_for(ivm) as client:
        client.run(commands.lssyscfg("lpar"))
        ivm.drop_all_transports()
        time.sleep(0.2)
        client.run(Command(("echo-argv", "after")))  # not retry_safe: it had not started, so it is safe
        assert client.connects == 2


def test_concurrent_runs_share_one_transport_and_respect_max_channels(ivm):
    errors = []
    with client_for(ivm, max_channels=3) as client:
        def work():
            try:
                assert client.run(Command(("hold", "0.15"))).stdout == "held\n"
            except Exception as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
    assert errors == []
    assert ivm.connections == 1
    assert len(ivm.commands) == 12
    assert ivm.max_active == 3


def test_commands_are_logged_and_reported_with_digests(ivm, caplog):
    records = []
    with client_for(ivm, on_command=records.append) as client, caplog.at_level(logging.DEBUG, "mobility.ivm"):
        client.run(commands.lssyscfg("lpar", fields=["name"]))
        client.run(Command(("lshmc", "-V")), check=False)
    # once each: a read that answered at DEBUG, a failure at WARNING
    levels = {r.getMessage().split(" -> ")[0].split(" ", 2)[2]: r.levelname for r in caplog.records if " -> " in r.getMessage()}
    assert levels == {"lssyscfg -r lpar -F name": "DEBUG", "lshmc -V": "WARNING"}
    assert [r.outcome for r in records] == ["ok", "failed"]
    assert records[0].command == "lssyscfg -r lpar -F name" and records[0].exit_status == 0
    assert len(records[0].stdout_sha256) == 64 and records[0].duration_s > 0
    assert records[1].exit_status == 127
    assert any("lssyscfg -r lpar -F name" in m and "exit=0" in m for m in caplog.messages)
    assert not any(ivm.password in m for m in caplog.messages)


def test_a_failing_audit_hook_does_not_fail_the_command(ivm):
    def broken(record):
        raise RuntimeError("audit down")

    with client_for(ivm, on_command=broken) as client:
        assert client.run(commands.lssyscfg("lpar")).exit_status == 0


def test_a_name_with_shell_metacharacters_never_reaches_the_server(ivm):
    with client_for(ivm) as client:
        for bad in ["nim1; rm -rf /", "a`id`", "$(reboot)", "x|y", "lp\nreboot", "-p"]:
            with pytest.raises(InvalidValue):
                client.run(commands.chsysstate("on", lpar_name=bad))
    assert ivm.commands == [] and ivm.connections == 0


def test_quoting_keeps_every_argument_one_word_on_the_remote_shell(ivm):
    hostile = ["a b", "x;reboot", "$(id)", "'q'", '"dq"', "*", "-i \"virtual_fc_mappings=1//1\""]
    with client_for(ivm) as client:
        out = client.run(Command(("echo-argv", *hostile))).stdout
    assert out.splitlines() == hostile


def test_pool_reuses_one_client_per_ivm_and_closes_idle_ones(ivm):
    pool = ClientPool(idle_s=60)
    made = []

    def factory():
        made.append(client_for(ivm))
        return made[-1]

    a = pool.get("ivm-1", factory)
    a.run(commands.lssyscfg("lpar"))
    assert pool.get("ivm-1", factory) is a and len(made) == 1
    assert pool.close_idle(now=time.monotonic() + 61) == 1
    assert not a.connected
    pool.close_all()
    assert len(pool) == 0


def test_closing_every_client_waits_for_their_transport_threads(ivm):
    # Forked after close_all (a test's daphne), a process must not inherit a transport thread mid-packet.
    pool = ClientPool()
    clients = [pool.get(key, lambda: client_for(ivm)) for key in range(3)]
    for client in clients:
        client.run(commands.lssyscfg("lpar"))
    transports = [client._transport for client in clients]
    assert all(t.is_alive() for t in transports)
    pool.close_all()
    assert not [t for t in transports if t.is_alive()]


def test_a_shell_that_does_not_answer_a_batch_gets_the_commands_one_by_one(ivm):
    # FakeIVM splits the whole line into one argv and answers without the end markers: ivmweb must not
    # guess which output belongs to which command, and runs each alone instead.
    with client_for(ivm) as client:
        results = client.run_batch([commands.lssyscfg("lpar"), Command(("echo-argv", "a b"))])
    assert [r.stdout for r in results] == [client_for(ivm).run(commands.lssyscfg("lpar")).stdout, "a b\n"]
    assert ivm.commands[0].startswith("lssyscfg -r lpar ; echo :ivmweb-end:")
    assert ivm.commands[1:3] == ["lssyscfg -r lpar", "echo-argv 'a b'"]
