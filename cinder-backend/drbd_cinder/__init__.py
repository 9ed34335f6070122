"""Cinder volume driver for drbdd: replicated block storage on DRBD.

The driver (drbd_cinder.driver.DrbdDriver) is a thin shim: every decision
about placement, sizing and replication is drbdd's, reached over D-Bus
through the _drbdd C extension (drbd_cinder.client.DrbddClient).
"""
