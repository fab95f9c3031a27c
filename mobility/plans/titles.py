"""What each requirement check is about, as the wizard, the plan page and the drift list title it."""


# What each check is about, as the wizard and the plan page title it (keys of planning.checks plus the two that
# only IVM's validation reports).
CHECK_TITLES = {
    "quarantine": "Inventory values within IVM's rules",
    "state": "Partition state",
    "not_vios": "Client partition (not a VIOS)",
    "physical_io": "No physical I/O adapters",
    "migration_state": "Not migrating",
    "rmc": "RMC connection",
    "dlpar": "DLPAR capable",
    "vopt": "No virtual optical media",
    "disk_backing": "Disks on shared SAN LUNs",
    "reserve_policy": "Source disks no_reserve",
    "capability": "Source mobility capable",
    "migration_limit": "Source migration limit",
    "dest_is_source": "Another server",
    "dest_capability": "Destination mobility capable",
    "dest_migration_limit": "Destination migration limit",
    "name_free": "Name free on destination",
    "compat_mode": "Processor compatibility mode",
    "memory": "Memory on destination",
    "processors": "Processing units on destination",
    "lmb_size": "Same memory block size",
    "vlans_bridged": "VLANs bridged on destination",
    "lun_visible": "Disks visible on destination",
    "dest_reserve_policy": "Destination disks no_reserve",
    "npiv_ports": "NPIV ports on destination",
    "virtual_slots": "Virtual slots on destination",
    "dest_console": "Destination IVM reachable and trusted",
    "mappings": "Adapter mappings",
}
