"""``python -m airflow_provider_dsjobs.cli``: the same as the ``dsjobs`` command."""

import sys

from airflow_provider_dsjobs.cli.main import main

sys.exit(main())
