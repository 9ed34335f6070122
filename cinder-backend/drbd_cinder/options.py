"""Configuration options of the DRBD (drbdd) Cinder driver."""

from oslo_config import cfg

drbd_opts = [
    cfg.StrOpt('drbd_dbus_address',
               default=None,
               help='D-Bus address of the bus drbdd listens on, e.g. '
                    'unix:path=/run/dbus/system_bus_socket. Unset: the '
                    'system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured).'),
    cfg.IntOpt('drbd_timeout',
               default=120, min=1,
               help='Timeout in seconds of one call to drbdd.'),
    cfg.IntOpt('drbd_ready_timeout',
               default=60, min=1,
               help='How long, in seconds, to wait for a replica to become '
                    'ready (connected and up to date, or a diskless client '
                    'with a path to the data) before an attach fails, and '
                    'for a new snapshot to be taken on every node.'),
    cfg.StrOpt('drbd_transport',
               default='drbd',
               choices=[('drbd', 'attach as a native diskless DRBD client '
                                 'on the connector host'),
                        ('iscsi', 'export the DRBD device through LIO iSCSI '
                                  'on a node holding a replica'),
                        ('auto', 'drbd when the connector host is a drbdd '
                                 'node, iscsi otherwise')],
               help='How volumes reach the hosts that attach them.'),
    cfg.BoolOpt('drbd_nova_helper',
                default=True,
                help='The compute nodes run drbd-nova-helper, which grows a '
                     "running guest's disk when its natively attached volume "
                     'grew (Nova\'s "local" volume driver cannot). Reported '
                     'as online_extend_support for the drbd transport; set '
                     'False where compute nodes do not run it.'),
    cfg.StrOpt('drbd_resource_group',
               default='cinder',
               help='drbdd resource group used for new volumes unless the '
                    'volume type sets the extra spec drbd:resource_group or '
                    'the scheduler chose another group (pool).'),
    cfg.ListOpt('drbd_resource_groups',
                default=[],
                help='Further drbdd resource groups offered to the scheduler '
                     'as pools of this backend, besides drbd_resource_group.'),
    cfg.IntOpt('drbd_place_count',
               default=None, min=1, max=32,
               help='Number of diskful replicas of new volumes. Unset: the '
                    "resource group's place-count."),
    cfg.StrOpt('drbd_local_node',
               default=None,
               help='drbdd node name of the host running cinder-volume, '
                    'where volumes are attached to copy images. Unset: the '
                    'host name.'),
    cfg.ListOpt('drbd_iscsi_portals',
                default=[],
                help='iSCSI portals (ip:port) to announce. Unset: drbdd '
                     'reports the portal of the node exporting the volume.'),
    cfg.BoolOpt('drbd_iscsi_chap',
                default=True,
                help='Require CHAP authentication on iSCSI exports.'),
    cfg.StrOpt('drbd_iscsi_chap_username',
               default=None,
               help='CHAP user name for all exports. Unset: one generated '
                    'per volume and kept in provider_auth.'),
    cfg.StrOpt('drbd_iscsi_chap_password',
               default=None, secret=True,
               help='CHAP secret for all exports: 12 to 255 characters of '
                    '[A-Za-z0-9-_.+=~!#^*,] (what LIO through drbdd '
                    'accepts). Unset: one generated per volume.'),
]
