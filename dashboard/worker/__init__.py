"""The background worker: rollups, KPI snapshots, partitions, heartbeat (and later probes)."""
