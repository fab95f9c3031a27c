"""The one error of an inventory sync."""


class SyncFailed(Exception):
    """The sync of one IVM could not complete; the message is what the console's last_sync_error shows."""
