"""Cinder volume driver for drbdd (replicated block storage on DRBD).

A thin shim: every volume is one drbdd resource definition named CV_<id>,
spawned from a resource group; drbdd decides placement, sizes, minors and
replication, and keeps the desired state in its cluster store. Volumes reach
hosts either natively (a diskless DRBD replica on the connector's host,
driver_volume_type 'local') or through a LIO iSCSI export made by drbdd.
"""

import contextlib
import errno
import math
import socket
import time

from oslo_log import log as logging

from cinder.common import constants
from cinder import exception
from cinder.i18n import _
from cinder.image import image_utils
from cinder import interface
from cinder.volume import driver
from cinder.volume import volume_utils

from drbd_cinder import client as drbdd_client
from drbd_cinder import options

LOG = logging.getLogger(__name__)

GIB = 1024 ** 3
KIB_PER_GIB = 1024 ** 2
VOLUME_PREFIX = 'CV_'
SNAPSHOT_PREFIX = 'CS_'
SPEC_GROUP = 'drbd:resource_group'
SPEC_PLACE_COUNT = 'drbd:place_count'


@interface.volumedriver
class DrbdDriver(driver.VolumeDriver):
    """Volumes as DRBD resources managed by drbdd.

    Version history:
        1.0.0 - first version: create/delete, extend, snapshots, clones,
                revert, manage, images, DRBD and iSCSI transports
    """

    VERSION = '1.0.0'
    CI_WIKI_NAME = 'DRBD_drbdd_CI'

    # Several cinder-volume services may run this backend in one cluster:
    # the driver keeps no state of its own (everything lives in drbdd's
    # cluster store), every drbdd accepts API calls, and drbdd serialises
    # concurrent changes through store transactions (compare on revision),
    # so two services creating, extending or attaching at once cannot
    # corrupt each other's work.
    SUPPORTS_ACTIVE_ACTIVE = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.configuration:
            self.configuration.append_config_values(options.drbd_opts)
        self._client = None
        self._stats = {}

    @staticmethod
    def get_driver_options():
        return options.drbd_opts

    # ---- plumbing ----------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            self._client = drbdd_client.DrbddClient(
                self.configuration.drbd_dbus_address,
                self.configuration.drbd_timeout)
        return self._client

    def _call(self, what, fn, *args, not_found_ok=False, busy=None):
        """Runs one drbdd call; its failure becomes a Cinder exception.

        not_found_ok: NotFound returns None (deleting what is gone).
        busy: exception raised on Busy instead of the generic one.
        """
        try:
            return fn(*args)
        except drbdd_client.DrbddError as e:
            if not_found_ok and e.not_found:
                LOG.info('%s: already gone (%s)', what, e.message)
                return None
            if busy is not None and e.busy:
                LOG.warning('%s: busy: %s', what, e.message)
                raise busy
            raise self._failure(what, e)

    @staticmethod
    def _failure(what, err):
        """Logs a failed drbdd call; returns the exception to raise."""
        LOG.error('Failed to %s: %s', what, err)
        return exception.VolumeBackendAPIException(
            data=_('Failed to %(what)s: %(err)s') % {'what': what,
                                                     'err': err})

    @staticmethod
    def _rd_name(volume):
        """drbdd resource name of a volume. A managed volume keeps its name
        (provider_id); ours are CV_<name_id>, which survives migration."""
        return volume.provider_id or VOLUME_PREFIX + volume.name_id

    @staticmethod
    def _snap_name(snapshot):
        return snapshot.provider_id or SNAPSHOT_PREFIX + snapshot.id

    @staticmethod
    def _extra_specs(volume):
        if not volume.volume_type_id and not (
                volume.obj_attr_is_set('volume_type') and volume.volume_type):
            return {}
        vtype = volume.volume_type
        return (vtype.extra_specs or {}) if vtype else {}

    def _pool_groups(self):
        groups = [self.configuration.drbd_resource_group]
        return groups + [g for g in self.configuration.drbd_resource_groups
                         if g not in groups]

    def _resource_group(self, volume):
        """The group a new volume is spawned from: the volume type's
        drbd:resource_group, else the pool the scheduler chose, else the
        configured default."""
        group = self._extra_specs(volume).get(SPEC_GROUP)
        if group:
            return group
        pool = volume_utils.extract_host(volume.host, 'pool') \
            if volume.host else None
        if pool and pool in self._pool_groups():
            return pool
        return self.configuration.drbd_resource_group

    def _spawn_options(self, volume):
        place_count = self._extra_specs(volume).get(SPEC_PLACE_COUNT) \
            or self.configuration.drbd_place_count
        opts = {'resource-group': self._resource_group(volume)}
        if place_count:
            try:
                opts['place-count'] = int(place_count)
            except ValueError:
                raise exception.InvalidVolumeType(
                    reason=_('%(k)s must be an integer, not %(v)r') %
                    {'k': SPEC_PLACE_COUNT, 'v': place_count})
        return opts

    def _grow_to(self, volume, from_size_gib):
        """After restore/clone: grows the new volume when Cinder asked for
        more than the source had."""
        if volume.size > from_size_gib:
            self.extend_volume(volume, volume.size)

    def _attached_on(self, name, node):
        """A host on node is attached already (another attachment there)."""
        return any(r.get('node') == node and r.get('attached') for r in
                   self._call('list replicas of %s' % name,
                              self.client.list_resources, name))

    @staticmethod
    def _device_of(replica):
        vols = replica.get('volumes') or []
        if not vols or not vols[0].get('device'):
            raise exception.VolumeBackendAPIException(
                data=_('drbdd reported no device for %s') %
                replica.get('resource-definition'))
        return vols[0]['device']

    def _node_of(self, host, nodes=None):
        """The drbdd node of Nova's host name (its CONF.host, the
        connector's 'host'): the node of that name, else the one whose
        property nova-host names it (docs/nova.md); None if neither."""
        if not host:
            return None
        if nodes is None:
            nodes = self._call('list nodes', self.client.list_nodes)
        for n in nodes:
            if n.get('name') == host:
                return host
        for n in nodes:
            if (n.get('properties') or {}).get('nova-host') == host:
                return n.get('name')
        return None

    def _transport(self, connector):
        transport = self.configuration.drbd_transport
        if transport != 'auto':
            return transport
        if self._node_of((connector or {}).get('host')):
            return 'drbd'
        return 'iscsi'

    def _node_for(self, volume, connector):
        """The drbdd node for a DRBD-transport connector, or a clear error."""
        host = connector['host']
        node = self._node_of(host)
        if node is None:
            raise exception.VolumeBackendAPIException(
                data=_('cannot attach %(vol)s natively on host %(host)s: no '
                       'drbdd node has that name or the property '
                       'nova-host=%(host)s (set it with "drbdctl node '
                       'set-property NODE nova-host %(host)s", or use the '
                       'iscsi transport)') % {'vol': volume.id, 'host': host})
        return node

    # ---- setup and stats ---------------------------------------------------

    def do_setup(self, context):
        self._client = None  # (re)connect in this process, after any fork

    def check_for_setup_error(self):
        version = self._call('reach drbdd', self.client.get_version)
        groups = {g['name'] for g in self._call(
            'list resource groups', self.client.list_resource_groups)}
        missing = [g for g in self._pool_groups() if g not in groups]
        if missing:
            raise exception.VolumeBackendAPIException(
                data=_('drbdd has no resource group %s (create it with '
                       '"drbdctl rg create")') % ', '.join(missing))
        LOG.info('DRBD driver %(v)s using drbdd %(d)s, resource groups %(g)s',
                 {'v': self.VERSION, 'd': version, 'g': self._pool_groups()})

    def get_volume_stats(self, refresh=False):
        if refresh or not self._stats:
            self._update_volume_stats()
        return self._stats

    def _update_volume_stats(self):
        cfg = self.configuration
        groups = {g['name']: g for g in self._call(
            'list resource groups', self.client.list_resource_groups)}
        sps = self._call('list storage pools', self.client.list_storage_pools,
                         '')
        rds = self._call('list resource definitions',
                         self.client.list_resource_definitions)
        # Multiattach: several hosts at once through drbdd's dual-primary
        # window (native) or one LIO ACL per initiator (iSCSI). Online
        # extend: an iSCSI initiator rescans; Nova's 'local' volume driver
        # cannot resize a guest's disk, drbd-nova-helper on the compute
        # node does (docs/nova.md).
        online_extend = cfg.drbd_transport == 'iscsi' or cfg.drbd_nova_helper
        ratio = volume_utils.get_max_over_subscription_ratio(
            cfg.max_over_subscription_ratio, supports_auto=True)
        pools = []
        for name in self._pool_groups():
            group = groups.get(name)
            if group is None:
                LOG.warning('drbdd resource group %s is gone', name)
                continue
            wanted = set(group.get('storage-pools') or [])
            mine = [p for p in sps if not wanted or p['name'] in wanted]
            # Each volume occupies place-count replicas, so a group offers
            # the pooled space divided by its replica count.
            copies = cfg.drbd_place_count or group.get('place-count') or 1

            def gib(key, pools_=mine, copies_=copies):
                kib = sum(p.get(key, 0) for p in pools_)
                return round(kib / KIB_PER_GIB / copies_, 2)

            drivers = {p.get('driver') for p in mine}
            thin = bool(drivers & {'lvm-thin', 'file'})
            pools.append({
                'pool_name': name,
                'total_capacity_gb': gib('capacity-kib'),
                'free_capacity_gb': gib('free-kib'),
                'provisioned_capacity_gb': gib('allocated-kib'),
                'reserved_percentage': cfg.reserved_percentage,
                'max_over_subscription_ratio': ratio,
                'thin_provisioning_support': thin,
                'thick_provisioning_support': 'lvm' in drivers,
                'sparse_copy_volume': thin,
                'multiattach': True,
                'online_extend_support': online_extend,
                'QoS_support': False,
                'total_volumes': sum(1 for rd in rds
                                     if rd.get('resource-group') == name),
                'location_info': 'drbdd:%s' % name,
                'drbd_place_count': copies,
            })
        self._stats = {
            'volume_backend_name': cfg.safe_get('volume_backend_name')
            or 'DRBD',
            'vendor_name': 'DRBD',
            'driver_version': self.VERSION,
            'storage_protocol': (constants.ISCSI
                                 if cfg.drbd_transport == 'iscsi'
                                 else constants.DRBD),
            'multiattach': True,
            'online_extend_support': online_extend,
            'thin_provisioning_support': any(
                p['thin_provisioning_support'] for p in pools),
            'thick_provisioning_support': any(
                p['thick_provisioning_support'] for p in pools),
            'total_capacity_gb': sum(p['total_capacity_gb'] for p in pools),
            'free_capacity_gb': sum(p['free_capacity_gb'] for p in pools),
            'pools': pools,
        }
        return self._stats

    # ---- volumes -----------------------------------------------------------

    def create_volume(self, volume):
        opts = self._spawn_options(volume)
        group = opts.pop('resource-group')
        self._call('create volume %s in group %s' % (volume.id, group),
                   self.client.spawn_resources, group, self._rd_name(volume),
                   volume.size * GIB, opts)

    def delete_volume(self, volume):
        name = self._rd_name(volume)
        self._call('delete volume %s' % volume.id,
                   self.client.delete_resource_definition, name,
                   not_found_ok=True,
                   busy=exception.VolumeIsBusy(volume_name=name))

    def extend_volume(self, volume, new_size):
        self._call('extend volume %s to %d GiB' % (volume.id, new_size),
                   self.client.resize_volume_definition, self._rd_name(volume),
                   0, new_size * GIB)

    def create_cloned_volume(self, volume, src_vref):
        self._call('clone volume %s to %s' % (src_vref.id, volume.id),
                   self.client.clone_resource, self._rd_name(src_vref),
                   self._rd_name(volume), self._spawn_options(volume))
        self._grow_to(volume, src_vref.size)

    # ---- snapshots ---------------------------------------------------------

    def create_snapshot(self, snapshot):
        rd, name = self._rd_name(snapshot.volume), self._snap_name(snapshot)
        self._call('snapshot volume %s' % snapshot.volume_id,
                   self.client.create_snapshot, rd, name, {})
        self._wait_snapshot_taken(rd, name, snapshot)

    def _wait_snapshot_taken(self, rd, name, snapshot):
        """Cinder shows a snapshot as available, a point in time the user
        may write past at once: return only when the node agents have taken
        it on every diskful replica (drbdd's state "ready")."""
        what = 'take snapshot %s of volume %s' % (snapshot.id,
                                                   snapshot.volume_id)

        def probe():
            snaps = self._call('list the snapshots of volume %s' %
                               snapshot.volume_id,
                               self.client.list_snapshots, rd) or []
            state = next((s.get('state') for s in snaps
                          if s.get('name') == name), 'gone')
            if state == 'ready':
                return None
            if state != 'pending':
                self._fail_now(what, 'CreateSnapshot', 'snapshot %r of %r '
                               'is %s' % (name, rd, state))
            return 'state ' + state
        self._wait_until(what, 'CreateSnapshot', 'snapshot %r of %r to be '
                         'taken' % (name, rd), probe)

    def _wait_until(self, what, method, subject, probe):
        """Polls probe() every 0.5 s until it returns None (done); otherwise
        it returns the current state for the message. Fails after
        drbd_ready_timeout with a "timed out" drbdd error."""
        timeout = self.configuration.drbd_ready_timeout
        deadline = time.monotonic() + timeout
        while True:
            state = probe()
            if state is None:
                return
            if time.monotonic() >= deadline:
                self._fail_now(what, method, 'timed out waiting for %s (%s '
                               'after %ds, drbd_ready_timeout)' %
                               (subject, state, timeout), errno.ETIMEDOUT)
            time.sleep(0.5)

    def _fail_now(self, what, method, message, err=errno.EIO):
        e = drbdd_client.DrbddError(method, err, None, message)
        raise self._failure(what, e) from e

    def delete_snapshot(self, snapshot):
        name = self._snap_name(snapshot)
        self._call('delete snapshot %s' % snapshot.id,
                   self.client.delete_snapshot, self._rd_name(snapshot.volume),
                   name, not_found_ok=True,
                   busy=exception.SnapshotIsBusy(snapshot_name=name))

    def create_volume_from_snapshot(self, volume, snapshot):
        self._call('create volume %s from snapshot %s' % (volume.id,
                                                          snapshot.id),
                   self.client.restore_snapshot,
                   self._rd_name(snapshot.volume), self._snap_name(snapshot),
                   self._rd_name(volume), self._spawn_options(volume))
        self._grow_to(volume, snapshot.volume_size)

    def revert_to_snapshot(self, context, volume, snapshot):
        name = self._rd_name(volume)
        what = 'revert volume %s to snapshot %s' % (volume.id, snapshot.id)
        self._call(what, self.client.revert_to_snapshot, name,
                   self._snap_name(snapshot))
        self._wait_reverted(what, name)

    def _wait_reverted(self, what, name):
        """Cinder makes the volume available when this returns: wait until
        a diskful replica serves the reverted data (drbdd's WaitReady says
        not ready while the revert runs; the resync to the other replicas
        goes on in the background)."""
        nodes = [r['node'] for r in self._call(
            'list replicas of %s' % name, self.client.list_resources, name)
            if not r.get('diskless')]
        if not nodes:
            self._fail_now(what, 'WaitReady', '%r has no diskful replica' %
                           name, errno.ENOENT)

        def probe():
            last = None
            for node in nodes:
                try:
                    self.client.wait_ready(name, node, 1)
                    return None
                except drbdd_client.DrbddError as e:
                    if e.errno != errno.ETIMEDOUT:
                        raise self._failure(what, e) from e
                    last = e.message
            return last
        self._wait_until(what, 'WaitReady', '%r to serve the reverted data'
                         % name, probe)

    def validate_connector(self, connector):
        transport = self._transport(connector)
        key = 'host' if transport == 'drbd' else 'initiator'
        if not connector.get(key):
            raise exception.InvalidConnectorException(
                missing=key, protocol=transport)

    def ensure_export(self, context, volume):
        # drbdd keeps exports and replicas as desired state and restores
        # them itself; nothing to redo after a cinder-volume restart.
        pass

    def create_export(self, context, volume, connector):
        if connector is None or self._transport(connector) != 'iscsi':
            return None
        if volume.provider_auth or not self.configuration.drbd_iscsi_chap:
            return None
        if self.configuration.drbd_iscsi_chap_username:
            return None
        return {'provider_auth': 'CHAP %s %s' % (
            volume_utils.generate_username(),
            volume_utils.generate_password(16))}

    def remove_export(self, context, volume):
        # Called once the last attachment is gone. Native DRBD has no
        # export; an iSCSI target (if any) goes away.
        transport = self.configuration.drbd_transport
        if transport == 'drbd':
            return
        try:
            self.client.unexport_iscsi(self._rd_name(volume), {})
        except drbdd_client.DrbddError as e:
            # With 'auto' the volume may never have been exported; a drbdd
            # without iSCSI support cannot have exported it either.
            if e.not_found or (transport == 'auto' and e.unknown_method):
                return
            raise self._failure('remove the iSCSI export of %s' % volume.id,
                                e)

    def initialize_connection(self, volume, connector, initiator_data=None):
        self.validate_connector(connector)
        if self._transport(connector) == 'drbd':
            return self._attach_drbd(volume,
                                     self._node_for(volume, connector))
        return self._attach_iscsi(volume, connector)

    def _attach_drbd(self, volume, node):
        """drbdd's Attach: the replica on node (the one there, or a new
        diskless client drbdd marks as the attach's own), and while another
        host is attached too (live migration, multiattach) the dual-primary
        window; then waits until node can open the device. Returns the
        'local' connection info. A failure detaches again, which removes
        only what the attach created."""
        name = self._rd_name(volume)
        had = self._attached_on(name, node)
        self._call('attach %s on %s' % (volume.id, node), self.client.attach,
                   name, node)
        try:
            replica = self._call(
                'wait for %s to be ready on %s' % (volume.id, node),
                self.client.wait_ready, name, node,
                self.configuration.drbd_ready_timeout)
        except Exception:
            if not had:
                self._call('detach %s from %s' % (volume.id, node),
                           self.client.detach, name, node,
                           not_found_ok=True)
            raise
        return {'driver_volume_type': 'local',
                'data': {'device_path': self._device_of(replica)}}

    def _chap(self, volume):
        cfg = self.configuration
        if not cfg.drbd_iscsi_chap:
            return None
        if cfg.drbd_iscsi_chap_username:
            return cfg.drbd_iscsi_chap_username, cfg.drbd_iscsi_chap_password
        if volume.provider_auth:
            method, user, secret = volume.provider_auth.split()
            return user, secret
        raise exception.VolumeBackendAPIException(
            data=_('volume %s has no CHAP credentials (no create_export?)') %
            volume.id)

    def _attach_iscsi(self, volume, connector):
        cfg = self.configuration
        name = self._rd_name(volume)
        opts = {'initiator': connector['initiator']}
        chap = self._chap(volume)
        if chap:
            opts['chap-username'], opts['chap-password'] = chap
        if cfg.drbd_iscsi_portals:
            opts['portals'] = list(cfg.drbd_iscsi_portals)
        what = 'export %s over iSCSI to %s' % (volume.id,
                                                connector['initiator'])
        export = self._call(what, self.client.export_iscsi, name, opts)
        self._wait_exported(what, name, connector['initiator'])
        portals = export.get('target-portals') or list(cfg.drbd_iscsi_portals)
        if not portals:
            raise exception.VolumeBackendAPIException(
                data=_('drbdd exported %s without a portal') % volume.id)
        iqn = export.get('target-iqn')
        if not iqn:
            raise exception.VolumeBackendAPIException(
                data=_('drbdd exported %s without a target IQN') % volume.id)
        lun = int(export.get('target-lun', 0))
        data = {'target_discovered': False,
                'target_iqn': iqn,
                'target_portal': portals[0],
                'target_lun': lun,
                'volume_id': volume.id,
                'discard': True}
        if len(portals) > 1:
            data.update(target_portals=portals,
                        target_iqns=[iqn] * len(portals),
                        target_luns=[lun] * len(portals))
        if chap:
            data.update(auth_method='CHAP', auth_username=chap[0],
                        auth_password=chap[1])
        return {'driver_volume_type': 'iscsi', 'data': data}

    def _wait_exported(self, what, name, initiator):
        """Nova logs in as soon as this returns: wait until the node has
        the target up with this initiator's ACL in place."""
        def probe():
            exports = self._call('list the exports of %s' % name,
                                 self.client.list_exports, name) or []
            ex = exports[0] if exports else {}
            state = ex.get('state', 'gone')
            if state == 'exported' and \
                    initiator in (ex.get('ready-initiators') or []):
                return None
            if state in ('failed', 'gone'):
                self._fail_now(what, 'ExportIscsi', 'the iSCSI export of %r '
                               'is %s%s' % (name, state, ': ' + ex['error']
                                            if ex.get('error') else ''))
            return 'state ' + state
        self._wait_until(what, 'ExportIscsi', 'the iSCSI export of %r to %s'
                         % (name, initiator), probe)

    def terminate_connection(self, volume, connector, **kwargs):
        """Removes the host's access. Returns True while other attachments
        still share the connection (the export must stay)."""
        name = self._rd_name(volume)
        attachments = volume.volume_attachment or []
        if connector is None:  # force detach: every client goes
            self._detach_all(volume)
            return False
        transport = self._transport(connector)
        key = 'host' if transport == 'drbd' else 'initiator'
        who = connector.get(key)
        if sum(1 for a in attachments
               if a.connector and a.connector.get(key) == who) > 1:
            return True  # another attachment on that host uses it
        if transport == 'drbd':
            node = self._node_of(who)
            if node is not None:  # else it was never attached natively
                self._call('detach %s from %s' % (volume.id, node),
                           self.client.detach, name, node,
                           not_found_ok=True)
        else:
            self._call('unexport %s from %s' % (volume.id, who),
                       self.client.unexport_iscsi, name, {'initiator': who},
                       not_found_ok=True)
        return len(attachments) > 1

    def _detach_all(self, volume):
        """Every host's attachment ends; drbdd removes the clients the
        attaches made, and nothing else."""
        name = self._rd_name(volume)
        if self.configuration.drbd_transport != 'iscsi':
            for r in self._call('list replicas of %s' % name,
                                self.client.list_resources, name):
                if r.get('attached'):
                    self._call('detach %s from %s' % (volume.id, r['node']),
                               self.client.detach, name, r['node'],
                               not_found_ok=True)
        if self.configuration.drbd_transport != 'drbd':
            self._call('unexport %s' % volume.id, self.client.unexport_iscsi,
                       name, {}, not_found_ok=True)

    # ---- images ------------------------------------------------------------

    @contextlib.contextmanager
    def _local_device(self, volume):
        """The volume's device on this host (drbd_local_node), attached for
        the duration of the block."""
        node = self.configuration.drbd_local_node or socket.gethostname()
        name = self._rd_name(volume)
        had = self._attached_on(name, node)
        conn = self._attach_drbd(volume, node)
        try:
            yield conn['data']['device_path']
        finally:
            if not had:
                self._call('detach %s from %s' % (volume.id, node),
                           self.client.detach, name, node, not_found_ok=True)

    def copy_image_to_volume(self, context, volume, image_service, image_id):
        with self._local_device(volume) as path:
            image_utils.fetch_to_raw(context, image_service, image_id, path,
                                     self.configuration.volume_dd_blocksize,
                                     size=volume.size)

    def copy_volume_to_image(self, context, volume, image_service,
                             image_meta):
        with self._local_device(volume) as path:
            volume_utils.upload_volume(context, image_service, image_meta,
                                       path, volume)

    def clone_image(self, context, volume, image_location, image_meta,
                    image_service):
        return None, False  # no image cache in drbdd: generic copy

    # ---- manage / unmanage -------------------------------------------------

    @staticmethod
    def _existing_name(existing_ref):
        name = existing_ref.get('source-name') if existing_ref else None
        if not name:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('give the drbdd resource name as source-name'))
        return name

    def manage_existing_get_size(self, volume, existing_ref):
        name = self._existing_name(existing_ref)
        try:
            vds = self.client.list_volume_definitions(name)
        except drbdd_client.DrbddError as e:
            if e.not_found:
                raise exception.ManageExistingInvalidReference(
                    existing_ref=existing_ref, reason=e.message)
            raise self._failure('size up %s' % name, e)
        if len(vds) != 1:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('resource %(n)s has %(c)d volumes; Cinder needs '
                         'exactly one') % {'n': name, 'c': len(vds)})
        return int(math.ceil(vds[0]['size-kib'] / KIB_PER_GIB))

    def manage_existing(self, volume, existing_ref):
        name = self._existing_name(existing_ref)
        size = self.manage_existing_get_size(volume, existing_ref)
        self._call('manage %s as volume %s' % (name, volume.id),
                   self.client.manage_resource, name,
                   {'owner': 'cinder', 'volume-id': volume.id})
        update = {'provider_id': name}
        vds = self._call('list volumes of %s' % name,
                         self.client.list_volume_definitions, name)
        if vds[0]['size-kib'] < size * KIB_PER_GIB:  # round up to whole GiB
            self._call('grow %s to %d GiB' % (name, size),
                       self.client.resize_volume_definition, name, 0,
                       size * GIB)
        return update

    def unmanage(self, volume):
        self._call('unmanage volume %s' % volume.id,
                   self.client.unmanage_resource, self._rd_name(volume), {},
                   not_found_ok=True)

    def update_migrated_volume(self, ctxt, volume, new_volume,
                               original_volume_status):
        # The data now lives under the new volume's name (or its managed
        # name); Cinder keeps the old id, so carry both over.
        return {'_name_id': new_volume.name_id,
                'provider_id': new_volume.provider_id,
                'provider_location': new_volume.provider_location}

