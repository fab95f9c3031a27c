"""Facts about the IVM command line that the simulator copies, in one place.

Everything here comes from ``../shared/reference/ivm-cli.md`` (relative to the repository). Entries tagged ``[R]`` are reconstructed
(no real IVM capture was available); a capture from a real IVM should correct them *here* and nowhere else.
Entries tagged ``[V]``/``[C]`` are verified or corroborated by code that drives real systems.
"""

from __future__ import annotations

# --- partition and system states (§4.3) -----------------------------------------------------------------
RUNNING = "Running"  # [V]
NOT_ACTIVATED = "Not Activated"  # [V]
STARTING = "Starting"  # [C nova constants]
SHUTTING_DOWN = "Shutting Down"  # [C nova constants]
OPEN_FIRMWARE = "Open Firmware"  # [C]
ERROR = "Error"  # [C]
MIGRATING_RUNNING = "Migrating - Running"  # [C op-test, paxes]
MIGRATING_NOT_ACTIVATED = "Migrating - Not Activated"  # [C op-test, paxes]
LPAR_STATES = (RUNNING, NOT_ACTIVATED, STARTING, SHUTTING_DOWN, OPEN_FIRMWARE, ERROR,
               "Not Available", MIGRATING_RUNNING, MIGRATING_NOT_ACTIVATED)
# States a partition may be declared with in a fleet file (the migrating ones only arise at run time).
FLEET_LPAR_STATES = (RUNNING, NOT_ACTIVATED, OPEN_FIRMWARE, ERROR)
SYSTEM_STATE = "Operating"  # [V]
RMC_STATES = ("active", "inactive", "none")  # [V] active/inactive, [R] none

# Partitions that hold no memory or processors from the shared pool while in these states.
IDLE_STATES = (NOT_ACTIVATED, MIGRATING_NOT_ACTIVATED)

# --- migration_state values (§4.2) ------------------------------------------------------------------------
NOT_MIGRATING = "Not Migrating"  # [C paxes]
MIGRATION_STARTING = "Migration Starting"  # [R]
MIGRATION_IN_PROGRESS = "Migration In Progress"  # [R]
SUSPENDED = "Suspended"  # [R] shown while the partition is suspended for the final pre-copy round
MIGRATION_COMPLETE = "Migration Complete"  # [C paxes]
MIGRATION_FAILED = "Migration Failed"  # [R]
MIGRATION_STOPPED = "Migration Stopped"  # [R]

# --- simulator timings, in simulated seconds (design assumptions, §7/§8; not IBM figures) -------------------
STARTING_S = 2.0  # "Migration Starting": validation and shell-partition creation on the destination
INACTIVE_TRANSFER_S = 8.0  # an inactive move copies only the definition
COMPLETE_LINGER_S = 3.0  # the source shows "Migration Complete" this long before the partition disappears
BOOT_S = 5.0  # chsysstate -o on: Starting -> Running
SHUTDOWN_S = 6.0  # delayed / OS shutdown: Shutting Down -> Not Activated
DOWNTIME_TARGET_S = 2.0
DEFAULT_UPTIME_S = 86400  # a partition declared Running in a fleet file has been up a day (lssyscfg uptime)  # suspend window the pre-copy model aims for (configurable per system)

# --- defaults for fleet files (§2, §8) ----------------------------------------------------------------------
DEFAULT_MAX_ACTIVE_MIGRATIONS = 8  # [C paxes sample 64,8,0,0]
DEFAULT_MAX_INACTIVE_MIGRATIONS = 64  # [C]
DEFAULT_MSP_BANDWIDTH_MB_S = 80.0  # [V rule of thumb for 1 GbE]
DEFAULT_CAPABILITIES = (  # [C paxes test fixture]
    "active_lpar_mobility_capable", "inactive_lpar_mobility_capable", "cod_proc_capable",
    "vet_activation_capable", "shared_proc_capable", "active_lpar_share_idle_procs_capable",
    "micro_lpar_capable", "dlpar_mem_capable", "assign_phys_io_capable", "lpar_avail_priority_capable",
    "lpar_proc_compat_mode_capable", "virtual_fc_capable", "active_mem_sharing_capable",
)
MANAGEMENT_LPAR_ID = 1  # [C]
MAX_LPARS = 254  # [R] upper bound for partition ids on a simulated system
FIRST_SERVER_SLOT = 11  # [R] server adapters on the management partition are numbered from here
RESERVED_VIOS_SLOTS = 10  # [C paxes: 0,1 serial; low slots reserved]

# --- messages and codes (§3.4) -----------------------------------------------------------------------------
# Known codes: [C]. The rest are invented [R] in the IVM pattern VIOSExxxxxxxx-xxxx: one per distinct
# failure so that a client can tell them apart; a real capture should replace them.
NO_RESULTS = "[VIOSI01040010-0003] No results were found."  # [C paxes], printed on stdout, exit 0 [R stdout]
ERROR_EXIT = 1  # [R] IVM commands exit non-zero on error; the exact value is not documented
NOT_FOUND_EXIT = 127  # [C libvirt: lshmc -V on IVM]

E_LPAR_NOT_FOUND = "VIOSE010401A1-0042"  # [C paxes]
E_USAGE = "VIOSE01040F01-0001"  # [R] bad flag, missing value, conflicting flags
E_BAD_VALUE = "VIOSE01040F01-0002"  # [R] a flag's value is not valid
E_BAD_ATTRIBUTE = "VIOSE01040F01-0003"  # [R] an attribute name in -F, --filter or -i is not valid
E_BAD_SYSTEM = "VIOSE01040F01-0004"  # [R] -m names another managed system
E_DEVICE_NOT_FOUND = "VIOSE01040F02-0001"  # [R] lsdev/lsmap: no such device
E_BAD_STATE = "VIOSE01040F03-0001"  # [R] chsysstate: operation not allowed in the partition's state

# migrlpar validation, one code per check of ivm-cli.md §2
MIGRATION_CODES: dict[str, tuple[str, str]] = {
    # key: (code, message template); templates use str.format with named fields
    "not_found": (E_LPAR_NOT_FOUND, "The partition {lpar} was not found."),
    "is_vios": ("VIOSE0104A001-0001", "Partition {lpar} is the management partition and cannot be migrated."),
    "bad_state": ("VIOSE0104A001-0002",
                  "Partition {lpar} is in state {state}; only Running (active) or Not Activated (inactive) "
                  "partitions can be migrated."),
    "already_migrating": ("VIOSE0104A001-0003", "Partition {lpar} is already migrating ({migration_state})."),
    "unknown_target_ip": ("VIOSE0104A002-0001",
                          "Unable to connect to the target management console at {ip}."),
    "same_system": ("VIOSE0104A002-0002", "The source and target managed systems are the same system ({system})."),
    "target_system_mismatch": ("VIOSE0104A002-0003",
                               "The target managed system {target} is not managed by the console at {ip} "
                               "(it manages {actual})."),
    "bad_remote_user": ("VIOSE0104A002-0004", "User {user} is not a valid user on the target console {ip}."),
    "no_key_trust": ("VIOSE0104A002-0005",
                     "SSH key authentication to {user}@{ip} failed; exchange keys with mkauthkeys first."),
    "source_not_capable": ("VIOSE0104A003-0001", "The source managed system {system} is not {capability}."),
    "target_not_capable": ("VIOSE0104A003-0002", "The target managed system {system} is not {capability}."),
    "lmb_mismatch": ("VIOSE0104A003-0003",
                     "The logical memory block size of the source ({source} MB) does not match the "
                     "destination ({target} MB)."),
    "compat_mode": ("VIOSE0104A003-0004",
                    "Processor compatibility mode {mode} of partition {lpar} is not supported by the "
                    "destination (supported: {supported})."),
    "rmc_inactive": ("VIOSE0104A004-0001",
                     "The RMC connection to partition {lpar} is not active (rmc_state={rmc_state})."),
    "not_dlpar_capable": ("VIOSE0104A004-0002",
                          "Partition {lpar} is not capable of dynamic memory and processor changes."),
    "physical_io": ("VIOSE0104A004-0003",
                    "Partition {lpar} owns physical I/O adapters ({slots}); remove them before migrating."),
    "vopt_loaded": ("VIOSE0104A004-0004", "Virtual optical media {media} is loaded in partition {lpar}."),
    "lv_backed": ("VIOSE0104A005-0001",
                  "Virtual target device {vtd} of partition {lpar} is backed by {kind} {device}; only "
                  "physical volumes on shared storage can migrate."),
    "reserve_policy": ("VIOSE0104A005-0002",
                       "Physical volume {device} backing partition {lpar} has reserve_policy={policy}; "
                       "no_reserve is required."),
    "lun_not_visible": ("VIOSE0104A005-0003",
                        "Physical volume {device} (unique_id {unique_id}) of partition {lpar} is not visible "
                        "on the destination management partition."),
    "npiv_port": ("VIOSE0104A005-0004",
                  "The virtual fibre channel client adapter {slot} of partition {lpar} cannot be hosted on the "
                  "destination: no NPIV-capable port on fabric {fabric}."),
    "vlan_not_bridged": ("VIOSE0104A006-0001",
                         "VLAN {vlan} of partition {lpar} is not bridged by a Shared Ethernet Adapter on "
                         "the destination."),
    "no_sea": ("VIOSE0104A006-0002", "The destination management partition has no Shared Ethernet Adapter."),
    "name_clash": ("VIOSE0104A007-0001", "A partition named {lpar} already exists on the destination."),
    "dest_id_taken": ("VIOSE0104A007-0002", "Partition ID {lpar_id} is not available on the destination."),
    "memory": ("VIOSE0104A008-0001",
               "Not enough memory on the destination for partition {lpar}: {needed} MB needed, "
               "{available} MB available."),
    "processors": ("VIOSE0104A008-0002",
                   "Not enough processing units on the destination for partition {lpar}: {needed} needed, "
                   "{available} available."),
    "virtual_slots": ("VIOSE0104A008-0003",
                      "Not enough free virtual slots on the destination management partition: {needed} "
                      "needed, {available} available."),
    "bad_mapping": ("VIOSE0104A009-0001", "Invalid {attribute} value {value}: {reason}."),
    "active_limit": ("VIOSE0104A00A-0001",
                     "The number of active migrations in progress on {system} ({in_progress}) has reached the "
                     "supported maximum ({supported})."),
    "inactive_limit": ("VIOSE0104A00A-0002",
                       "The number of inactive migrations in progress on {system} ({in_progress}) has reached "
                       "the supported maximum ({supported})."),
    # run-time errors of -o s / -o r / -o m
    "not_migrating": ("VIOSE0104A00B-0001", "Partition {lpar} is not migrating."),
    "cannot_stop": ("VIOSE0104A00B-0002",
                    "The migration of partition {lpar} cannot be stopped in state {migration_state}."),
    "not_source": ("VIOSE0104A00B-0003",
                   "The migration of partition {lpar} must be stopped from the source console."),
    "in_progress": ("VIOSE0104A00B-0004",
                    "The migration of partition {lpar} is still in progress ({migration_state}); stop it "
                    "first or use --force."),
    "failed": ("VIOSE0104A00B-0005", "The migration of partition {lpar} failed: {reason}"),
    "wait_expired": ("VIOSE0104A00B-0006",
                     "The wait time expired; the migration of partition {lpar} continues ({migration_state})."),
    "stopped": ("VIOSE0104A00B-0007", "The migration of partition {lpar} was stopped."),
}
E_KEY_TEST = "VIOSE0104A002-0005"  # mkauthkeys --test failure shares the key-trust code

# --- lsnports (not in ivm-cli.md: the standard VIOS ioscli command, columns as IBM's VIOS command reference
# prints them) [R]. Only NPIV-capable adapter ports are listed; fabric is 1 when the switch it is cabled to
# supports NPIV. An 8 Gb port carries 64 virtual ports and 2048 WWPNs; each client adapter (vfchost) bound to
# the port takes one virtual port and its pair of WWPNs.
LSNPORTS_HEADER = ("name", "physloc", "fabric", "tports", "aports", "swwpns", "awwpns")
NPIV_PORTS_PER_FC_PORT = 64
NPIV_WWPNS_PER_FC_PORT = 2048

# --- output attribute orders (§4.3, §4.4, §4.2) -----------------------------------------------------------
SYS_ATTRS = (
    "name", "type_model", "serial_num", "ipaddr", "state", "sys_time", "power_off_policy",
    "active_lpar_mobility_capable", "inactive_lpar_mobility_capable", "capabilities", "lpar_proc_compat_modes",
    "max_lpars", "max_power_ctrl_lpars", "service_lpar_id", "service_lpar_name", "mfg_default_config",
)
LPAR_ATTRS = (
    "name", "lpar_id", "lpar_env", "state", "resource_config", "os_version", "logical_serial_num",
    "default_profile", "curr_profile", "work_group_id", "shared_proc_pool_util_auth", "allow_perf_collection",
    "power_ctrl_lpar_ids", "boot_mode", "lpar_keylock", "auto_start", "redundant_err_path_reporting",
    "rmc_state", "rmc_ipaddr", "uptime", "dlpar_mem_capable", "dlpar_proc_capable",
    "desired_lpar_proc_compat_mode", "curr_lpar_proc_compat_mode", "virtual_eth_mac_base_value", "msp",
)
# trunk_priority only on trunk adapters (a non-trunk one omits it, as in the captured HMC sample of §4.4);
# vswitch, allowed_os_mac_addrs and qos_priority as later firmware prints them (HMC lshwres man page) [R order].
ETH_ATTRS = ("lpar_name", "lpar_id", "slot_num", "state", "is_required", "is_trunk", "trunk_priority",
             "ieee_virtual_eth", "port_vlan_id", "vswitch", "addl_vlan_ids", "mac_addr", "allowed_os_mac_addrs",
             "qos_priority")
DEFAULT_VSWITCH = "ETHERNET0"  # [R] the default virtual switch name of PowerVM
SCSI_ATTRS = ("lpar_name", "lpar_id", "slot_num", "state", "is_required", "adapter_type", "remote_lpar_id",
              "remote_lpar_name", "remote_slot_num")
FC_ATTRS = SCSI_ATTRS + ("wwpns",)
SLOT_LPAR_ATTRS = ("lpar_name", "lpar_id", "curr_max_virtual_slots", "pend_max_virtual_slots",
                   "next_avail_virtual_slot")
SLOT_SLOT_ATTRS = ("slot_num", "config", "state", "lpar_name", "lpar_id")
MEM_SYS_ATTRS = ("configurable_sys_mem", "curr_avail_sys_mem", "pend_avail_sys_mem", "installed_sys_mem",
                 "deconfig_sys_mem", "sys_firmware_mem", "mem_region_size", "configurable_num_sys_huge_pages",
                 "curr_avail_num_sys_huge_pages", "pend_avail_num_sys_huge_pages", "max_num_sys_huge_pages",
                 "requested_num_sys_huge_pages", "huge_page_size", "max_mem_pools", "default_hpt_ratios",
                 "possible_hpt_ratios")
MEM_LPAR_ATTRS = ("lpar_name", "lpar_id", "curr_min_mem", "curr_mem", "curr_max_mem", "pend_min_mem",
                  "pend_mem", "pend_max_mem", "run_min_mem", "run_mem", "mem_mode", "curr_hpt_ratio")
PROC_SYS_ATTRS = ("configurable_sys_proc_units", "curr_avail_sys_proc_units", "pend_avail_sys_proc_units",
                  "installed_sys_proc_units", "deconfig_sys_proc_units", "min_proc_units_per_virtual_proc",
                  "max_virtual_procs_per_lpar", "max_procs_per_lpar", "max_curr_virtual_procs_per_aixlinux_lpar",
                  "max_curr_virtual_procs_per_vios_lpar", "max_curr_procs_per_aixlinux_lpar",
                  "max_curr_procs_per_vios_lpar", "max_shared_proc_pools")
PROC_LPAR_ATTRS = ("lpar_name", "lpar_id", "curr_shared_proc_pool_id", "curr_proc_mode", "curr_min_proc_units",
                   "curr_proc_units", "curr_max_proc_units", "curr_min_procs", "curr_procs", "curr_max_procs",
                   "curr_sharing_mode", "curr_uncap_weight", "pend_proc_units", "pend_procs", "run_proc_units",
                   "run_procs", "run_uncap_weight")
IO_SLOT_ATTRS = ("unit_phys_loc", "bus_id", "phys_loc", "drc_index", "drc_name", "lpar_name", "lpar_id",
                 "slot_io_pool_id", "description", "feature_codes", "pci_vendor_id", "pci_device_id")
MIGR_SYS_ATTRS = ("inactive_lpar_mobility_capable", "num_inactive_migrations_supported",
                  "num_inactive_migrations_in_progress", "active_lpar_mobility_capable",
                  "num_active_migrations_supported", "num_active_migrations_in_progress")
MIGR_LPAR_ATTRS = ("name", "lpar_id", "migration_state", "migration_type", "source_sys_name", "dest_sys_name",
                   "dest_lpar_id", "source_msp_name", "source_msp_id", "dest_msp_name", "dest_msp_id",
                   "bytes_transmitted", "bytes_remaining", "remaining_time")
# lssyscfg -r prof: the order of the captured HMC profile sample (ivm-cli.md §4.3 [V capture]).
PROF_ATTRS = ("name", "lpar_name", "lpar_id", "lpar_env", "all_resources", "min_mem", "desired_mem", "max_mem",
              "proc_mode", "min_proc_units", "desired_proc_units", "max_proc_units", "min_procs", "desired_procs",
              "max_procs", "sharing_mode", "uncap_weight", "io_slots", "lpar_io_pool_ids", "max_virtual_slots",
              "virtual_serial_adapters", "virtual_scsi_adapters", "virtual_eth_adapters", "virtual_fc_adapters",
              "hca_adapters", "boot_mode", "conn_monitoring", "auto_start", "power_ctrl_lpar_ids", "work_group_id",
              "redundant_err_path_reporting")
MIGR_VIRTUALIO_ATTRS = ("lpar_name", "lpar_id", "possible_virtual_scsi_mappings",
                        "suggested_virtual_scsi_mappings", "possible_virtual_fc_mappings",
                        "suggested_virtual_fc_mappings")
MIGR_MSP_ATTRS = ("source_msp_name", "source_msp_id", "dest_msp_names", "dest_msp_ids", "ipaddr_mappings")

# Commands a padmin shell knows but the simulator does not model: exit 127 like an unknown command.
SHELL_NOT_FOUND = "rksh: {command}: not found"  # [R] restricted ksh of the padmin login
PROMPT = "$ "  # [R] the padmin login's ksh prompt
# Filters the padmin shell lets administrators' scripts pipe IVM output into (ivm-cli.md §3.1: grep, awk, sed,
# tail are used against real IVMs); the simulator implements these in Python, never by running a program.
PIPE_FILTERS = ("grep", "tail", "head", "wc", "sort", "uniq", "cut")
