"""``tell.py SLEEP``: prints the secrets in its environment (a careless job), then sleeps SLEEP seconds."""

import os
import sys
import time

print(f"{os.environ['GREETING']}: the project secret is {os.environ['WAREHOUSE_URI']}", flush=True)
print(f"the registry password (a secret-id) is {os.environ['REGISTRY_COPY']}", flush=True)
print(f"the session password is {os.environ['SESSION_PASSWORD']}", file=sys.stderr, flush=True)
print("done telling", flush=True)
time.sleep(float(sys.argv[1]))
