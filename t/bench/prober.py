#!/usr/bin/env python3
"""prober - one client that sends a policy request every 50 ms on its own
connection and notes how long each answer took, while a benchmark loads
the daemon: "a separate client never waits more than 1 s". Runs until
SIGTERM, then prints: probes=N max_ms=M p99_ms=P errors=E.
    prober.py PORT [INTERVAL_MS]"""
import signal
import socket
import sys
import time

port = int(sys.argv[1])
every = (int(sys.argv[2]) if len(sys.argv) > 2 else 50) / 1000.0
stop = False


def on_term(signum, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
waits, errors, i = [], 0, 0
s = None
while not stop:
    try:
        if s is None:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
        req = ("request=smtpd_access_policy\nprotocol_state=RCPT\n"
               "client_address=203.0.113.%d\nsender=probe%d@example.net\n"
               "recipient=u@example.org\n\n" % (i % 250 + 1, i)).encode()
        t0 = time.monotonic()
        s.sendall(req)
        buf = b""
        while b"\n\n" not in buf:
            d = s.recv(4096)
            if not d:
                raise OSError("closed")
            buf += d
        waits.append(time.monotonic() - t0)
    except OSError:
        errors += 1
        if s is not None:
            s.close()
        s = None
    i += 1
    time.sleep(every)
waits.sort()
n = len(waits)
print("probes=%d max_ms=%.1f p99_ms=%.1f errors=%d" % (
    n, 1000 * waits[-1] if n else -1,
    1000 * waits[n * 99 // 100] if n else -1, errors))
