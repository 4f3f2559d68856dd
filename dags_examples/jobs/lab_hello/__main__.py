"""An ML Lab style job: reads its parameters from the environment, keeps a run counter in /data."""

import os
from pathlib import Path

runs_file = Path("/data/runs.txt")
runs = int(runs_file.read_text()) + 1 if runs_file.exists() else 1
runs_file.parent.mkdir(parents=True, exist_ok=True)
runs_file.write_text(str(runs))
print(f"EXAMPLE_PARAMETER={os.environ.get('EXAMPLE_PARAMETER', '')}")
print(f"project {os.environ['LAB_PROJECT']}, run {runs} of job {os.environ['DSJOBS_JOB_NAME']}")
