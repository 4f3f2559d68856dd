"""Test job that ignores its graceful-shutdown signal (SIGUSR1): only a kill ends it."""

import signal
import time

signal.signal(signal.SIGUSR1, signal.SIG_IGN)
print("stubborn started", flush=True)
for i in range(600):
    print(f"tick {i}", flush=True)
    time.sleep(0.2)
