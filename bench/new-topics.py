#!/usr/bin/env python3
"""New topics under many wildcard subscriptions (docs/benchmarks.md, "Routing").

    python3 bench/new-topics.py PORT W T RUN

On the STOMP broker at 127.0.0.1:PORT: one connection makes W wildcard subscriptions
`/topic/RUN.<i>.>`, then a producer publishes T messages, each to a topic nobody published to
before (1 in 10 matching a subscription), a receipt on the last. Prints the time of the W
SUBSCRIBEs and of the T publishes (per new topic). A cost per new topic that grows with W
is a per-topic scan of the subscriptions. Standard library only; measures, asserts nothing.
"""
import socket
import sys
import time


def read_until(s, token, buf):
    while token not in buf[0]:
        d = s.recv(1 << 20)
        if not d:
            raise SystemExit("connection closed")
        buf[0] += d
    buf[0] = buf[0][buf[0].index(token) + len(token):]


def conn(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"CONNECT\naccept-version:1.2\nhost:localhost\n\n\0")
    read_until(s, b"CONNECTED", [b""])
    return s


def main():
    port, w, t, run = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    sub = conn(port)
    frames = [f"SUBSCRIBE\nid:{i}\ndestination:/topic/{run}.{i}.>\n\n\0".encode() for i in range(w)]
    frames.append(b"SUBSCRIBE\nid:last\ndestination:/topic/zzz\nreceipt:subs-done\n\n\0")
    t0 = time.monotonic()
    sub.sendall(b"".join(frames))
    read_until(sub, b"receipt-id:subs-done", [b""])
    t1 = time.monotonic()
    p = conn(port)
    frames = []
    for i in range(t):
        first = i * 10 % max(w, 1) if i % 10 == 0 else f"x{i}"
        frames.append(f"SEND\ndestination:/topic/{run}.{first}.new{i}\n\nm\0".encode())
    frames.append(b"SEND\ndestination:/topic/zzz-end\nreceipt:pub-done\n\nm\0")
    t2 = time.monotonic()
    p.sendall(b"".join(frames))
    read_until(p, b"receipt-id:pub-done", [b""])
    t3 = time.monotonic()
    print(f"W={w} T={t}: {w} SUBSCRIBEs {t1 - t0:.2f} s; {t} new topics published "
          f"{t3 - t2:.2f} s ({(t3 - t2) / max(t, 1) * 1e6:.0f} us per new topic)")


if __name__ == "__main__":
    main()
