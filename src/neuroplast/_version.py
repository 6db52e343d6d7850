__version__ = "0.1.0"
ARTIFACT_SCHEMA_VERSION = 1
