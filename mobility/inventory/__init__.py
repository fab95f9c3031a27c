"""The inventory home: what the registered IVMs hold, read over SSH and kept in the inventory tables.

* ``connections`` — one pooled, audited SSH client per registered IVM (every other part that talks to an IVM
  asks it for its client);
* ``reads`` — which commands a sync sends, and how (batched, concurrent);
* ``records`` — the typed records parsed from what an IVM printed;
* ``parse`` — from output to records, one step per kind of record;
* ``apply`` — from records to rows, writing only what differs (new rows at once through ``mobility.bulk``);
* ``digest`` — skip the comparison when an IVM printed what the rows were made from;
* ``sync`` — one IVM, all IVMs, the due ones, or one read late enough (``sync_since``);
* ``estate`` — the inventory tables as ``mobility.planning`` reads them (``load_estate``, ``load_system(s)``,
  ``load_partition``).
"""

from mobility.inventory.digest import forget_digests, inventory_digest
from mobility.inventory.errors import SyncFailed
from mobility.inventory.sync import (
    SyncResult,
    forget_parses,
    read_inventory,
    sync_all,
    sync_console,
    sync_due,
    sync_since,
)

__all__ = ["SyncFailed", "SyncResult", "forget_digests", "forget_parses", "inventory_digest", "read_inventory",
           "sync_all", "sync_console", "sync_due", "sync_since"]
