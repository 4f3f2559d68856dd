"""The labels dsjobs puts on the containers and volumes it creates (``MANAGED_LABEL`` is ``containers.py``'s)."""

from __future__ import annotations

#: The job a container runs (its id).
LABEL_JOB_ID = "dsjobs.job_id"
#: The project (store namespace) a container or volume belongs to.
LABEL_PROJECT = "dsjobs.project"
