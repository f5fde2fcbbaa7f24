"""User-facing errors: each carries a message that says what is wrong and what to do.

The CLI prints these without a traceback; anything else escaping is a bug.
"""


class LstmfcnError(Exception):
    """Base class of every error meant for the user."""


class UnknownDatasetError(LstmfcnError):
    """A dataset name that is neither a 2018 nor a 2015 UCR name."""


class DataFormatError(LstmfcnError):
    """A malformed dataset file (names the file and line)."""


class DownloadError(LstmfcnError):
    """A failed, truncated or unverifiable transfer."""


class ChecksumError(DownloadError):
    """Downloaded or cached bytes whose sha256 or size differs from the expected one."""


class ArchiveError(LstmfcnError):
    """A corrupt zip, a wrong password, or an unsafe member (zip-slip, link)."""


class ConfigError(LstmfcnError):
    """A bad argument or configuration value."""
