"""pyzmq PAIR ping-pong between two Python processes (bench/triggers.ts reference).
   python3 bench/pyzmq_pair.py SAMPLES          -> prints {"medianUs": .., "p99Us": ..}
   python3 bench/pyzmq_pair.py --peer ENDPOINT  (the echo side, started by the first)"""
import json
import subprocess
import sys
import time

import zmq

if sys.argv[1] == "--peer":
    ctx = zmq.Context()
    s = ctx.socket(zmq.PAIR)
    s.linger = 0
    s.connect(sys.argv[2])
    while True:
        m = s.recv()
        if m == b"\0":
            break
        s.send(m)
    s.close()
    ctx.term()
    sys.exit(0)

n = int(sys.argv[1])
ctx = zmq.Context()
s = ctx.socket(zmq.PAIR)
s.linger = 0
s.bind("tcp://127.0.0.1:*")
ep = s.getsockopt_string(zmq.LAST_ENDPOINT)
peer = subprocess.Popen([sys.executable, __file__, "--peer", ep])
msg = b"\1" * 64
for _ in range(2000):
    s.send(msg)
    s.recv()
t = [0.0] * n
clock = time.perf_counter_ns
for i in range(n):
    a = clock()
    s.send(msg)
    s.recv()
    t[i] = (clock() - a) / 1000.0
s.send(b"\0")
peer.wait()
s.close()
ctx.term()
t.sort()
print(json.dumps({"medianUs": t[n // 2], "p99Us": t[int(n * 0.99)]}))
