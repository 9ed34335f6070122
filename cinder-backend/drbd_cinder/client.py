"""DrbddClient: the drbdd D-Bus API as Python methods.

Every call goes through the _drbdd C extension, which releases the GIL for
the D-Bus round trip; here the call additionally runs in a native thread
(eventlet.tpool) so cinder-volume's green threads keep running while drbdd
works. Sizes on the wire are bytes ('t'); listings report KiB.

Methods that drbdd does not have yet are called by the name they are
expected to get (see docs/cinder.md); until the daemon has them they fail
with DrbddError.unknown_method set.
"""

import errno
import os

from eventlet import tpool

import _drbdd

UNKNOWN_METHOD = 'org.freedesktop.DBus.Error.UnknownMethod'


class DrbddError(Exception):
    """A failed drbdd call: method, errno (positive), D-Bus error name and
    drbdd's message."""

    def __init__(self, method, err, dbus_name, message):
        self.method = method
        self.errno = err
        self.dbus_name = dbus_name
        self.message = message
        super().__init__(str(self))

    @property
    def unknown_method(self):
        return self.dbus_name == UNKNOWN_METHOD

    @property
    def not_found(self):
        return self.errno == errno.ENOENT

    @property
    def exists(self):
        return self.errno == errno.EEXIST

    @property
    def busy(self):
        return self.errno == errno.EBUSY

    def __str__(self):
        if self.unknown_method:
            return ('drbdd does not implement %s yet (pending on the daemon): '
                    '%s' % (self.method, self.message))
        return 'drbdd %s failed: %s [%s]' % (
            self.method, self.message, self.dbus_name or os.strerror(
                self.errno))


class DrbddClient(object):
    """A pool of drbdd connections for one address.

    One _drbdd.Client carries one call at a time, so parallel callers (tpool
    runs up to 20 threads) each take their own from the pool. The pool is
    dropped after a fork: sd-bus connections do not survive one.
    """

    def __init__(self, address=None, timeout=120, use_tpool=True):
        self._address = address
        self._timeout = float(timeout)
        self._use_tpool = use_tpool
        self._pool = []
        self._pid = os.getpid()

    def _invoke(self, method, sig, args, timeout):
        if self._pid != os.getpid():
            self._pool, self._pid = [], os.getpid()
        try:
            c = self._pool.pop()
        except IndexError:
            try:
                c = _drbdd.Client(self._address, self._timeout)
            except _drbdd.Error as e:
                raise DrbddError(method, e.errno, None, e.strerror)
        try:
            ret = c.call(method, sig, list(args), None, timeout or 0)
        except _drbdd.Error as e:
            # A typed error leaves the connection usable; anything else
            # (bus gone, timeout) gets a fresh connection next time.
            if e.dbus_name and e.errno != errno.ETIMEDOUT:
                self._pool.append(c)
            else:
                c.close()
            raise DrbddError(method, e.errno, e.dbus_name, e.strerror)
        self._pool.append(c)
        return ret

    def call(self, method, sig, *args, timeout=None):
        """Calls org.drbd.drbdd1.Manager.<method>; returns the reply list."""
        if self._use_tpool:
            return tpool.execute(self._invoke, method, sig, args, timeout)
        return self._invoke(method, sig, args, timeout)

    def close(self):
        pool, self._pool = self._pool, []
        for c in pool:
            c.close()

    # ---- existing methods ------------------------------------------------

    def get_version(self):
        return self.call('GetVersion', '')[0]

    def list_nodes(self):
        return self.call('ListNodes', '')[0]

    def list_resource_groups(self):
        return self.call('ListResourceGroups', '')[0]

    def list_storage_pools(self, node=''):
        return self.call('ListStoragePools', 's', node)[0]

    def spawn_resources(self, group, name, size, options=None):
        return self.call('SpawnResources', 'ssta{sv}', group, name, size,
                         options or {})[0]

    def delete_resource_definition(self, name):
        self.call('DeleteResourceDefinition', 's', name)

    def list_resource_definitions(self):
        return self.call('ListResourceDefinitions', '')[0]

    def list_volume_definitions(self, name):
        return self.call('ListVolumeDefinitions', 's', name)[0]

    def resize_volume_definition(self, name, volume, size):
        self.call('ResizeVolumeDefinition', 'sut', name, volume, size)

    def create_resource(self, name, node, options=None):
        self.call('CreateResource', 'ssa{sv}', name, node, options or {})

    def delete_resource(self, name, node):
        self.call('DeleteResource', 'ss', name, node)

    def attach(self, name, node):
        self.call('Attach', 'ssa{sv}', name, node, {})

    def detach(self, name, node):
        self.call('Detach', 'ssa{sv}', name, node, {})

    def list_resources(self, name):
        return self.call('ListResources', 's', name)[0]

    # ---- methods drbdd does not have yet (docs/cinder.md) -----------------

    def create_snapshot(self, name, snapshot, options=None):
        self.call('CreateSnapshot', 'ssa{sv}', name, snapshot, options or {})

    def list_snapshots(self, name):
        return self.call('ListSnapshots', 's', name)[0]

    def delete_snapshot(self, name, snapshot):
        self.call('DeleteSnapshot', 'ss', name, snapshot)

    def restore_snapshot(self, name, snapshot, new_name, options=None):
        return self.call('RestoreSnapshot', 'sssa{sv}', name, snapshot,
                         new_name, options or {})[0]

    def revert_to_snapshot(self, name, snapshot):
        self.call('RevertToSnapshot', 'ss', name, snapshot)

    def clone_resource(self, name, new_name, options=None):
        return self.call('CloneResource', 'ssa{sv}', name, new_name,
                         options or {})[0]

    def wait_ready(self, name, node, timeout):
        """Waits up to timeout seconds until the replica of name on node is
        ready; returns it (as a ListResources row)."""
        return self.call('WaitReady', 'sst', name, node,
                         int(timeout * 1000000), timeout=timeout + 30)[0]

    def export_iscsi(self, name, options):
        return self.call('ExportIscsi', 'sa{sv}', name, options)[0]

    def list_exports(self, name=''):
        return self.call('ListExports', 's', name)[0]

    def unexport_iscsi(self, name, options=None):
        self.call('UnexportIscsi', 'sa{sv}', name, options or {})

    def manage_resource(self, name, options=None):
        self.call('ManageResource', 'sa{sv}', name, options or {})

    def unmanage_resource(self, name, options=None):
        self.call('UnmanageResource', 'sa{sv}', name, options or {})
