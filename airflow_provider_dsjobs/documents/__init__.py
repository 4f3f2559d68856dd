"""The documents dsjobs stores, as typed values: the job record (``record.py``), the plan doc (``plan_doc.py``),
the output and dataset manifests (``manifest.py``), the read-write s3-mount sync results (``mount_sync.py``) and
the working-storage grant (``storage_grant.py``).

A leaf: these modules import only the standard library and each other, so every layer may use them. One
serialization convention for all of them: ``to_doc()`` gives the JSON object (a ``dict``) as it is stored, with
the keys the first version of each document wrote, and the classmethod ``from_doc(doc)`` reads one back —
including documents written by older versions (unknown keys are ignored, missing ones take their defaults).
``codec.encode``/``codec.decode`` turn such an object into stored bytes and back.
"""
