#!/usr/bin/env python3
"""A full disk gives producers a clear ERROR and leaves the store consistent.

Runs ferromq with its data directory on a small tmpfs, sends persistent messages with
receipts until the broker answers with an ERROR, checks that the broker still serves
other clients, then stops it, makes room, restarts it and checks that every receipted
message is there exactly once. Needs root (to mount the tmpfs); skips otherwise.

usage: disk_full.py FERROMQ_BINARY
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

# The broker keeps storage.min_free_disk_mb (256 by default) free: fill the rest.
SIZE_MB = 400


def frames(sock, buf):
    """Yields (command, headers, body) from a raw STOMP stream."""
    while True:
        while b"\0" not in buf[0]:
            data = sock.recv(65536)
            if not data:
                return
            buf[0] += data
        raw, buf[0] = buf[0].split(b"\0", 1)
        raw = raw.lstrip(b"\r\n")
        head, _, body = raw.partition(b"\n\n")
        lines = head.decode().split("\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.setdefault(k, v)
        yield lines[0], headers, body


def start(binary, data_dir, log):
    p = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--stomp-port", "0", "--admin-port", "0", "--data-dir", data_dir],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        log.append(line)
        m = re.search(r"listening.*addr=127\.0\.0\.1:(\d+)", line)
        if m:
            return p, int(m.group(1))
    p.kill()
    sys.exit("ferromq did not start:\n" + "".join(log))


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"CONNECT\naccept-version:1.2\nhost:x\n\n\0")
    buf = [b""]
    it = frames(s, buf)
    cmd, _, _ = next(it)
    assert cmd == "CONNECTED", cmd
    return s, it


def main():
    binary = sys.argv[1]
    if os.geteuid() != 0:
        print("diskfull: SKIPPED (needs root to mount a tmpfs)")
        return 0
    mnt = tempfile.mkdtemp(prefix="ferromq-diskfull-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", mnt]).returncode:
        print("diskfull: SKIPPED (cannot mount a tmpfs here)")
        return 0
    log = []
    broker = None
    try:
        data = os.path.join(mnt, "data")
        broker, port = start(binary, data, log)
        s, it = connect(port)
        body = b"x" * 4096
        receipted, error = [], None
        # Bounded: the disk holds at most a few thousand of these.
        for n in range(20000):
            s.sendall(b"SEND\ndestination:/queue/full\npersistent:true\nreceipt:%d\nseq:%d\n"
                      b"content-length:%d\n\n%s\0" % (n, n, len(body), body))
            cmd, headers, payload = next(it)
            if cmd == "RECEIPT":
                receipted.append(n)
                continue
            error = (cmd, headers, payload)
            break
        assert error, "the disk never filled"
        assert len(receipted) > 1000, f"refused too early: after {len(receipted)} messages"
        cmd, headers, _ = error
        assert cmd == "ERROR", error
        msg = headers.get("message", "")
        assert "storage" in msg.lower(), f"unclear error: {msg!r}"
        assert headers.get("receipt-id") == str(len(receipted)), headers
        print(f"diskfull: {len(receipted)} receipted, then ERROR {msg!r}")
        # The broker still serves others (a non-persistent message needs no disk).
        s2, it2 = connect(port)
        s2.sendall(b"SUBSCRIBE\nid:1\ndestination:/queue/other\n\n\0"
                   b"SEND\ndestination:/queue/other\n\nstill-up\0")
        cmd, _, payload = next(it2)
        assert cmd == "MESSAGE" and payload == b"still-up", (cmd, payload)
        broker.send_signal(signal.SIGKILL)
        broker.wait(timeout=10)
        # Make room, restart, and count what the store kept.
        subprocess.run(["mount", "-o", f"remount,size={SIZE_MB * 2}m", mnt], check=True)
        broker, port = start(binary, data, log)
        s3, it3 = connect(port)
        s3.sendall(b"SUBSCRIBE\nid:1\ndestination:/queue/full\nack:client\nactivemq.prefetchSize:100000\n\n\0")
        seen = []
        s3.settimeout(5)
        try:
            while len(seen) < len(receipted) + 5:
                cmd, headers, _ = next(it3)
                if cmd == "MESSAGE":
                    seen.append(int(headers["seq"]))
        except (socket.timeout, StopIteration):
            pass
        missing = sorted(set(receipted) - set(seen))
        dups = len(seen) - len(set(seen))
        print(f"diskfull: after restart {len(seen)} delivered, {len(missing)} missing, {dups} duplicated")
        assert not missing, f"receipted messages lost: {missing[:10]}"
        assert dups == 0, "duplicates after restart"
        assert seen == sorted(seen), "order changed"
        print("diskfull: ok")
        return 0
    except BaseException:
        if broker:
            broker.kill()
            rest = broker.stderr.read() if broker.stderr else ""
            print("broker log:\n" + "".join(log) + rest, file=sys.stderr)
        raise
    finally:
        if broker and broker.poll() is None:
            broker.kill()
            broker.wait()
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)


if __name__ == "__main__":
    sys.exit(main())
