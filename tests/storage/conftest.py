from tests.storage.stores import local_store, s3_store, store

__all__ = ["local_store", "s3_store", "store"]
