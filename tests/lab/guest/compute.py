"""The compute node's side of an attach, with the real OpenStack code from
Debian's packages (python3-os-brick, python3-nova), run in a lab VM as root.

  compute.py connect      < CONNECTION_INFO   os-brick's connector for the
                                              transport: prints "device: PATH"
  compute.py disconnect   < CONNECTION_INFO   os-brick disconnect
  compute.py disk-xml DEV TARGET < CONNECTION_INFO
                                              Nova's libvirt volume driver
                                              for the transport builds the
                                              <disk> element (printed)

CONNECTION_INFO is the JSON Cinder returned ({'driver_volume_type': ...,
'data': {...}}). os-brick runs its privileged calls in this process
(privsep client mode off: we are root already).
"""

import json
import sys


def brick_connector(info):
    from os_brick import initiator
    from os_brick.initiator import connector
    from os_brick.privileged import rootwrap  # noqa: F401 (registers)
    import os_brick
    import os_brick.privileged
    from oslo_config import cfg
    cfg.CONF([], project='nova', default_config_files=[])
    os_brick.setup(cfg.CONF)
    os_brick.privileged.default.set_client_mode(False)
    from oslo_concurrency import lockutils
    lockutils.set_defaults('/run/os-brick-locks')  # Nova's [oslo_concurrency] lock_path
    protocol = {'local': initiator.LOCAL,
                'iscsi': initiator.ISCSI}[info['driver_volume_type']]
    return connector.InitiatorConnector.factory(
        protocol, root_helper=None, use_multipath=False,
        device_scan_attempts=5)


def disk_xml(info, dev, target):
    from nova import conf as nova_conf
    nova_conf.CONF([], project='nova', default_config_files=[])
    nova_conf.CONF.set_override('virt_type', 'qemu', group='libvirt')
    from nova.virt.libvirt import driver
    from nova.virt.libvirt import host as libvirt_host
    from oslo_utils import importutils
    host = libvirt_host.Host('qemu:///system')
    cls = importutils.import_class(
        driver.VOLUME_DRIVERS[info['driver_volume_type']])
    drv = cls(host)
    info = dict(info)
    info['data'] = dict(info['data'], device_path=dev)
    conf = drv.get_config(info, {'bus': 'virtio', 'dev': target,
                                 'type': 'disk'})
    return conf.to_xml()


def main():
    cmd = sys.argv[1]
    info = json.load(sys.stdin)
    if cmd == 'connect':
        dev = brick_connector(info).connect_volume(info['data'])
        print('device: %s' % dev['path'])
    elif cmd == 'disconnect':
        brick_connector(info).disconnect_volume(info['data'], None)
    elif cmd == 'disk-xml':
        print(disk_xml(info, sys.argv[2], sys.argv[3]))
    else:
        sys.exit('unknown command %r' % cmd)


if __name__ == '__main__':
    main()
