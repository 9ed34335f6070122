"""The volume life cycle through real Cinder services, provisioned for real.

Run by lab-openstack-check.sh: Cinder and a controller-only drbdd (no node
agent) on this host, joined through a forwarded port to the etcd of a lab of
two QEMU VMs (vm1, vm2) whose drbdd agents create the LVs (lvm-thin) and run
the lab's DRBD (LAB_DRBD: 9 by default). Each step checks Cinder's view, drbdd's, and the kernels': devices,
sizes, data written on vm1 and read back after revert and clone, an iSCSI
login from vm2 with the connection info Cinder returned, and nothing left on
the nodes at the end.
"""

import json
import os
import shlex
import subprocess
import sys
import time
import uuid

from cinderclient import client as cinder_client
from cinderclient.contrib import noauth
from keystoneauth1 import session

import openstack_scenario as oc
from openstack_scenario import check, wait, wait_gone

SRCDIR = os.environ['SRCDIR']
BUILD = os.environ.get('BUILD', os.path.join(SRCDIR, 'build'))
LAB = os.path.join(SRCDIR, 'tests', 'lab', 'lab')
GUEST = '. %s/tests/lab/guest/node.sh; ' % SRCDIR
NODES = ['vm1', 'vm2']         # storage: diskful replicas
# make lab-nova-check (LAB_NOVA=1): vm3, a compute node without storage, and
# Nova's side on vm1 and vm3 (libvirtd, drbd-nova-helper; docs/nova.md).
NOVA = os.environ.get('LAB_NOVA') == '1'
ALL = NODES + ['vm3'] if NOVA else NODES
DOMAIN = 'instance-1'
INSTANCE = str(uuid.uuid4())   # the Nova server the domain stands for
GIB = 1024 ** 3
GIB_KIB = 1024 * 1024
HOST = 'ckhost'  # cinder.conf's host (cinder-services.sh)
SYNC_TIMEOUT = int(os.environ.get('LAB_SYNC_TIMEOUT', '600'))


def guest(vm, script, timeout=300):
    """Runs script (bash, node.sh sourced) in vm; returns (rc, stdout)."""
    p = subprocess.run([LAB, 'run', '-t', str(timeout), vm, GUEST + script],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return p.returncode, p.stdout.strip()


def ctl(*args):
    """drbdctl on this host (the controller-only drbdd)."""
    p = subprocess.run([os.path.join(BUILD, 'drbdctl')] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return p.returncode, p.stdout.strip()


def uptodate(d, name):
    reps = d.replicas(name)
    return bool(reps) and all(r.get('state') == 'UpToDate'
                              for r in reps.values() if not r['diskless'])


def wait_uptodate(d, name, what):
    t0 = time.monotonic()
    while time.monotonic() - t0 < SYNC_TIMEOUT:
        if uptodate(d, name):
            return check(True, '%s: every replica UpToDate (%.0fs)' %
                         (what, time.monotonic() - t0))
        time.sleep(1)
    return check(False, '%s: every replica UpToDate' % what,
                 {n: r.get('state') for n, r in d.replicas(name).items()})


def secondary_everywhere(d, name, timeout=60):
    """Waits until drbdd sees no Primary of name (observed state lags the
    kernel by an event)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        roles = [(r.get('observed') or {}).get('kernel', {}).get('role')
                 for r in d.replicas(name).values()]
        if roles and 'Primary' not in roles and None not in roles:
            return True
        time.sleep(0.5)
    return False


def write_pattern(d, name, tag):
    """Writes 4 MiB of random data to the start of name on vm1 (Primary for
    the moment); returns its sha256 as computed in the guest."""
    rc, out = ctl('r', 'set-primary', 'vm1', name)
    if rc:
        return None, out
    rc, out = guest('vm1', 'set -e; wait_until 60 is_primary %s; '
                    'dev=$(dev_of %s); head -c 4M /dev/urandom >/tmp/%s; '
                    'dd if=/tmp/%s of=$dev bs=1M oflag=direct status=none; '
                    'sha256sum </tmp/%s | cut -d" " -f1' %
                    (name, name, tag, tag, tag))
    ctl('r', 'set-primary', 'vm1', name, '--clear')
    secondary_everywhere(d, name)
    return (out.splitlines()[-1] if rc == 0 else None), out


def read_sum(d, name):
    """sha256 of the first 4 MiB of name, read on vm1 (Primary for the
    moment)."""
    rc, out = ctl('r', 'set-primary', 'vm1', name)
    if rc:
        return None
    rc, out = guest('vm1', 'set -e; wait_until 60 is_primary %s; '
                    'head -c 4M $(dev_of %s) | sha256sum | cut -d" " -f1' %
                    (name, name))
    ctl('r', 'set-primary', 'vm1', name, '--clear')
    secondary_everywhere(d, name)
    return out.splitlines()[-1] if rc == 0 and out else None


def main():
    start = time.monotonic()
    auth = noauth.CinderNoAuthPlugin('admin', oc.PROJECT,
                                     endpoint=oc.ENDPOINT)
    c = cinder_client.Client('3.70', session=session.Session(auth=auth))
    d = oc.Drbdd()
    vols, snaps = c.volumes, c.volume_snapshots

    # -- the cluster as Cinder sees it ----------------------------------------
    nodes = {n['name']: n for n in d.c.call('ListNodes', '')[0]}
    dialect = os.environ.get('LAB_DRBD', '9')
    check(sorted(nodes) == ALL and
          all(n.get('drbd-version') == dialect and
              n.get('kernel', {}).get('version', '').startswith(dialect + '.')
              for n in nodes.values()),
          'drbdd on this host sees the lab nodes %s with DRBD %s '
          'from their kernels' % (', '.join(ALL), dialect),
          {k: v.get('kernel', {}).get('version') for k, v in nodes.items()})
    sps = d.c.call('ListStoragePools', 's', [''])[0]
    want = round(sum(p.get('capacity-kib', 0) for p in sps) / GIB_KIB / 2, 2)
    pools = {p.name: p for p in c.pools.list(detailed=True)}
    p = pools.get('%s@drbd#cinder' % HOST)
    check(p is not None and want > 0 and
          abs(p.total_capacity_gb - want) < 0.02 and
          p.thin_provisioning_support,
          'scheduler sees pool #cinder: %.2f GiB (the two lab thin pools '
          'halved), thin' % want,
          p and p.total_capacity_gb)

    vt = c.volume_types.create('drbd')
    vt.set_keys({'volume_backend_name': 'drbd'})

    # -- create ----------------------------------------------------------------
    v1 = vols.create(1, name='v1', volume_type='drbd')
    v1 = wait(vols.get, v1.id, ['available'], timeout=120)
    name1 = 'CV_' + v1.id
    reps = d.replicas(name1)
    check(v1.status == 'available' and sorted(
        n for n, r in reps.items() if not r['diskless']) == NODES,
        'create: available, diskful replicas on vm1 and vm2', v1.status)
    if not wait_uptodate(d, name1, 'create'):
        return finish(start)
    rc, out = guest('vm1', 'lvs --noheadings -o lv_size --units b '
                    'drbdpool/%s_00000' % name1)
    check(rc == 0 and out.strip().rstrip('B').isdigit() and
          int(out.strip().rstrip('B')) >= GIB,
          'create: LV %s_00000 on vm1 (%s)' % (name1, out.strip()), out)
    sum_a, out = write_pattern(d, name1, 'A')
    check(sum_a is not None, 'wrote 4 MiB (A) to the volume on vm1', out)

    # -- snapshot, revert ----------------------------------------------------------
    s1 = snaps.create(v1.id, name='s1')
    s1 = wait(snaps.get, s1.id, ['available'], timeout=120)
    snap_lv = '%s_00000.CS_%s' % (name1, s1.id)
    ok = s1.status == 'available'
    for vm in NODES:
        rc, _ = guest(vm, 'lvs drbdpool/%s' % snap_lv)
        ok = ok and rc == 0
    check(ok, 'snapshot: available, thin snapshot LV on vm1 and vm2',
          s1.status)
    sum_b, out = write_pattern(d, name1, 'B')
    check(sum_b is not None and sum_b != sum_a,
          'wrote other 4 MiB (B) after the snapshot', out)
    vols.revert_to_snapshot(v1, s1)
    # The driver returns once a replica serves the reverted data (up to
    # drbd_ready_timeout = 300 s): wait longer than that.
    v1 = wait(vols.get, v1.id, ['available'], timeout=400)
    check(v1.status == 'available', 'revert to snapshot: available',
          v1.status)
    wait_uptodate(d, name1, 'revert')
    check(read_sum(d, name1) == sum_a,
          'revert: vm1 reads the data of the snapshot (A) again')

    # -- volume from snapshot (grown past the snapshot's size) --------------
    vs = vols.create(2, snapshot_id=s1.id, name='from-snap',
                     volume_type='drbd')
    vs = wait(vols.get, vs.id, ['available'], timeout=180)
    names = 'CV_' + vs.id
    check(vs.status == 'available' and d.rd(names) and
          d.rd(names)['volumes'][0]['size-kib'] == 2 * GIB_KIB,
          'volume from snapshot: available, 2 GiB', vs.status)
    if wait_uptodate(d, names, 'volume from snapshot'):
        check(read_sum(d, names) == sum_a,
              'volume from snapshot: vm1 reads the snapshot data (A)')

    # -- clone -------------------------------------------------------------------
    vc = vols.create(1, source_volid=v1.id, name='clone', volume_type='drbd')
    vc = wait(vols.get, vc.id, ['available'], timeout=180)
    namec = 'CV_' + vc.id
    check(vc.status == 'available' and d.rd(namec) is not None,
          'clone: available', vc.status)
    if wait_uptodate(d, namec, 'clone'):
        check(read_sum(d, namec) == sum_a, 'clone: vm1 reads the data (A)')

    # -- attach and detach, DRBD transport (vm1 holds a diskful replica) -------
    # cinderclient returns a dict; Cinder flattens the driver's 'data' into
    # connection_info.
    # No instance: Cinder lets only Nova (or after asking Nova) delete an
    # attachment bound to a server that has connection info, and this lab
    # has no Nova.
    att = c.attachments.create(v1.id, oc.connector('vm1'), None)
    info = att.get('connection_info') or {}
    dev = info.get('device_path', '')
    rc, out = guest('vm1', '[ -b %s ] && [ "$(dev_of %s)" = %s ] && '
                    'state_is %s vm1 UpToDate' % (dev, name1, dev, name1))
    check(info.get('driver_volume_type') == 'local' and rc == 0,
          'attach (attachments API) on vm1: local %s, a block device there, '
          'UpToDate' % dev, info)
    c.attachments.complete(att['id'])
    v1 = wait(vols.get, v1.id, ['in-use'])
    check(v1.status == 'in-use', 'attachment complete: in-use')
    c.attachments.delete(att['id'])
    v1 = wait(vols.get, v1.id, ['available'])
    r = d.replicas(name1).get('vm1')
    check(v1.status == 'available' and r and not r['diskless'],
          'detach: available, the diskful replica on vm1 stays', v1.status)

    # -- attach and detach, iSCSI (a host that is no DRBD node) -----------------
    ini = 'iqn.2026-01.org.example:vm2'
    conn = dict(oc.connector('initiator-host'), initiator=ini)
    att = c.attachments.create(vc.id, conn, None)
    data = info = att.get('connection_info') or {}
    if check(info.get('driver_volume_type') == 'iscsi' and
             data.get('auth_method') == 'CHAP',
             'attach over iSCSI: iscsi connection info with CHAP',
             info.get('driver_volume_type')):
        portal = data['target_portal']
        rc, out = guest('vm2', 'set -e; printf %%s %s >/tmp/pw; '
                        '$LAB_BUILD/drbdd-iscsi-check --portal %s --target %s '
                        '--lun %d --initiator %s --user %s --password-file '
                        '/tmp/pw --write' %
                        (json.dumps(data['auth_password']), portal,
                         data['target_iqn'], data['target_lun'], ini,
                         data['auth_username']), timeout=180)
        cap = [int(w[1]) for w in (x.split() for x in out.splitlines())
               if len(w) > 2 and w[0] == 'capacity' and w[1].isdigit()]
        # DRBD rounds the usable size up: at least what Cinder asked for.
        check(rc == 0 and cap and GIB <= cap[0] < GIB + 64 * 1024 ** 2,
              'vm2 logs in to %s with the CHAP secret from Cinder, sees '
              '%s bytes (>= 1 GiB), writes and reads back' %
              (portal, cap[0] if cap else '?'), out)
    if NOVA and info.get('driver_volume_type') == 'iscsi':
        # The same connection info through os-brick's ISCSIConnector
        # (open-iscsi's iscsiadm and iscsid, CHAP) on vm3, as Nova does.
        rc, out = guest('vm3', 'iscsid_start %s' % ini)
        rc, out = brick('vm3', 'connect', nova_info(att))
        path = device_of(out) if rc == 0 else ''
        rc2 = 1
        if path.startswith('/dev/'):
            q = shlex.quote(path)
            rc2, out = guest('vm3', 'set -e; [ -b %s ]; head -c 1M /dev/urandom >/tmp/i1; '
                             'dd if=/tmp/i1 of=%s bs=1M seek=2 oflag=direct status=none; '
                             'dd if=%s bs=1M skip=2 count=1 iflag=direct status=none >/tmp/i2; '
                             'cmp /tmp/i1 /tmp/i2; blockdev --getsize64 %s' % (q, q, q, q))
        check(rc == 0 and rc2 == 0 and path.startswith('/dev/'),
              "os-brick's ISCSIConnector on vm3 logs in with CHAP (%s), "
              'writes and reads back 1 MiB' % path, out)
        rc, out = brick('vm3', 'disconnect', nova_info(att))
        rc2, _ = guest('vm3', '! iscsiadm -m session >/dev/null 2>&1')
        check(rc == 0 and rc2 == 0,
              'os-brick disconnect: no iSCSI session left on vm3', out)
    c.attachments.delete(att['id'])
    vc = wait(vols.get, vc.id, ['available'])
    rc = 0
    for vm in NODES:
        # LIO names are lower case, '_' as '-' (drbdd: iscsi_volume_name)
        rc |= guest(vm, 'wait_until 60 lio_gone %s' %
                    namec.lower().replace('_', '-'))[0]
    check(vc.status == 'available' and rc == 0,
          'iSCSI detach: available, no LIO target left on vm1 or vm2')

    # -- Nova (LAB_NOVA=1): live migration there and back, a rollback ------------
    # Nova calls Cinder with its service token; deleting an attachment bound
    # to a server needs it (Cinder asks Nova otherwise, and there is no Nova
    # here). noauth takes the service roles from the request's header.
    nova = cinder_client.Client('3.70', session=session.Session(
        auth=auth, additional_headers={'X-Service-Roles': 'service'}))
    att = live_migration(nova, d, v1, name1) if NOVA else None


    # -- multiattach: two servers on vm1 and vm3 write at once ------------------
    if NOVA:
        multiattach(c, nova, d)

    # -- extend while attached: the guest sees it -------------------------------
    vols.extend(v1, 2)
    v1 = wait(vols.get, v1.id, ['in-use' if att else 'available'])
    rc = 0
    for vm in NODES:
        rc |= guest(vm, 'wait_until 180 size_at_least $(dev_of %s) %d' %
                    (name1, 2 * GIB))[0]
    check(v1.size == 2 and
          d.rd(name1)['volumes'][0]['size-kib'] == 2 * GIB_KIB and rc == 0,
          'extend 1 -> 2 GiB%s: Cinder, drbdd, and /dev/drbdN on vm1 and vm2'
          % (' of the attached volume' if att else ''), v1.status)
    if att:
        rc, out = guest('vm1', 'wait_until 60 domblk_at_least %s vdb %d && '
                        'domblk_bytes %s vdb' % (DOMAIN, 2 * GIB, DOMAIN))
        check(rc == 0, 'online extend: drbd-nova-helper on vm1 grew the '
              "domain's disk; libvirt's domblkinfo says %s bytes" %
              out.splitlines()[-1:], out)
        end_domain(nova, d, v1, name1, att, 'vm1')
        v1 = wait(vols.get, v1.id, ['available'])
    check(read_sum(d, name1) == sum_a, 'extend: the data (A) is intact')

    # -- delete ------------------------------------------------------------------
    snaps.delete(s1)
    check(wait_gone(snaps.get, s1.id, timeout=120), 'snapshot delete')
    for v, what in ((vs, 'volume from snapshot'), (vc, 'clone'),
                    (v1, 'volume')):
        vols.delete(v)
        check(wait_gone(vols.get, v.id, timeout=120) and
              d.rd('CV_' + v.id) is None,
              'delete %s: gone from Cinder and drbdd' % what)
    for vm in ALL:
        rc, out = guest(vm, 'wait_until 180 converged "" "" || '
                        '{ echo "LVs: $(our_lvs) DRBD: $(kernel_resources)";'
                        ' exit 1; }', timeout=240)
        check(rc == 0, 'no LV and no DRBD resource left on %s' % vm, out)
    svcs = {(s.binary, s.host): s.state for s in c.services.list()}
    check(svcs.get(('cinder-volume', '%s@drbd' % HOST)) == 'up',
          'cinder-volume still up')
    return finish(start)


def nova_info(att):
    """Cinder's connection info as Nova holds it (cinderclient flattens
    'data' into connection_info)."""
    info = dict(att.get('connection_info') or {})
    return {'driver_volume_type': info.pop('driver_volume_type', None),
            'data': info}


def brick(vm, cmd, info, *args):
    """compute.py (os-brick, Nova's volume driver) in vm with info on stdin."""
    return guest(vm, "printf '%%s' %s | /usr/bin/python3 %s %s %s" %
                 (shlex.quote(json.dumps(info)),
                  os.path.join(SRCDIR, 'tests', 'lab', 'guest', 'compute.py'),
                  cmd, ' '.join(shlex.quote(a) for a in args)),
                 timeout=240)


def device_of(out):
    """The device compute.py connect printed ("device: PATH"), or ''."""
    for line in (out or '').splitlines():
        if line.startswith('device: '):
            return line[len('device: '):].strip()
    return ''


def window(name, vm):
    """The kernel of vm allows two primaries for name: 1, 0, or None."""
    rc, out = guest(vm, 'two_primaries %s && echo 1 || echo 0' % name)
    return int(out.splitlines()[-1]) if rc == 0 and out else None


def role(name, vm):
    return guest(vm, 'my_role %s' % name)[1].splitlines()[-1:] or ['?']


def used_by(d, name, vm):
    return (d.replicas(name).get(vm) or {}).get('used-by') or []


def wait_for(what, probe, timeout=90):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if probe():
            return True
        time.sleep(1)
    return False


def migrate(src, dst):
    """virsh migrate --live, as Nova's libvirt driver does (between the two
    libvirtds on the lab segment). The domain runs paused (it boots
    nothing), and QEMU activates a paused domain's disks on the destination
    only when it runs: resume and suspend it there, as a running guest
    would be, so its QEMU opens the disk for writing (DRBD promotes)."""
    rc, out = guest(src, 'virsh migrate --live --verbose %s qemu+tcp://%s/system '
                    'tcp://%s' % (DOMAIN, dst, {'vm1': '10.99.0.1',
                                                 'vm3': '10.99.0.3'}[dst]),
                    timeout=300)
    if rc == 0:
        rc, o = guest(dst, 'virsh -q resume %s && virsh -q suspend %s' %
                      (DOMAIN, DOMAIN))
        out += '\n' + o
    return rc, out


def write_at(vm, name, mib, tag):
    """4 MiB of random data at mib MiB of name, written on vm (which is
    Primary through its domain's QEMU); returns its sha256."""
    rc, out = guest(vm, 'set -e; head -c 4M /dev/urandom >/tmp/%s; dd if=/tmp/%s '
                    'of=$(dev_of %s) bs=1M seek=%d oflag=direct status=none; '
                    'sha256sum </tmp/%s | cut -d" " -f1' %
                    (tag, tag, name, mib, tag))
    return out.splitlines()[-1] if rc == 0 and out else None


def sums_at(name, mib, through=None):
    """sha256 of 4 MiB at mib MiB of name on every replica's disk (the LVs on
    vm1 and vm2; DRBD lets no Secondary open the device while a peer is
    Primary), and through the device on the Primary node through."""
    out = {}
    for vm in NODES:
        rc, o = guest(vm, 'dd if=/dev/drbdpool/%s_00000 bs=1M skip=%d count=4 '
                      'iflag=direct status=none | sha256sum | cut -d" " -f1' %
                      (name, mib))
        out[vm] = o.splitlines()[-1] if rc == 0 and o else None
    if through:
        rc, o = guest(through, 'dd if=$(dev_of %s) bs=1M skip=%d count=4 '
                      'iflag=direct status=none | sha256sum | cut -d" " -f1' %
                      (name, mib))
        out[through + ' (device)'] = o.splitlines()[-1] if rc == 0 and o else None
    return out


def end_domain(c, d, vol, name, att, vm):
    """Nova's detach at the end: the domain goes, os-brick disconnects, the
    attachment is deleted."""
    guest(vm, 'virsh -q destroy %s; virsh -q undefine %s' % (DOMAIN, DOMAIN))
    brick(vm, 'disconnect', nova_info(att))
    c.attachments.delete(att['id'])


def live_migration(c, d, v1, name1):
    """Nova's live migration of a domain using v1, driven as Nova drives it:
    the Cinder attachments API with each host's connector, os-brick's
    connector on the compute nodes, the disk XML from Nova's libvirt volume
    driver, virsh migrate --live between the two compute VMs' libvirtd, and
    the attachment of the host left behind deleted. vm1 holds a diskful
    replica, vm3 none. Returns the attachment on vm1 at the end (the domain
    runs there), or None if it went wrong early."""
    att1 = c.attachments.create(v1.id, oc.connector('vm1'), INSTANCE)
    info1 = nova_info(att1)
    rc, out = brick('vm1', 'connect', nova_info(att1))
    dev = device_of(out)
    if not check(rc == 0 and dev == info1['data'].get('device_path'),
                 "os-brick's LocalConnector on vm1 connects %s" % dev, dev):
        return None
    rc, out = brick('vm1', 'disk-xml', info1, dev, 'vdb')
    open(os.path.join(os.environ.get('T_DIR', '/tmp'), 'disk.xml'),
         'w').write(out)
    if not check(rc == 0 and ('<source dev="%s"/>' % dev) in out,
                 "Nova's libvirt volume driver builds the <disk> for %s" %
                 dev, out):
        return None
    rc, out = guest('vm1', "cat >/tmp/disk.xml <<'EOX'\n%s\nEOX\n"
                    'domain_start %s /tmp/disk.xml && '
                    'wait_until 30 role_is %s Primary' % (out, DOMAIN, name1))
    check(rc == 0, 'libvirtd on vm1 runs domain %s with that disk: QEMU '
          'opened it, vm1 is Primary' % DOMAIN, out)
    c.attachments.complete(att1['id'])
    sum_m = write_at('vm1', name1, 8, 'M')
    check(wait_for('used-by', lambda: used_by(d, name1, 'vm1') == [DOMAIN]),
          'drbd-nova-helper on vm1 reported it: drbdctl r l shows %s using '
          'the replica on vm1' % DOMAIN, d.replicas(name1).get('vm1'))

    # Nova's pre-live-migration on the destination: a connection for vm3.
    att3 = c.attachments.create(v1.id, oc.connector('vm3'), INSTANCE)
    info3 = nova_info(att3)
    rd = d.rd(name1)
    check(sorted(rd.get('attached', [])) == ['vm1', 'vm3'] and
          window(name1, 'vm1') == 1 and window(name1, 'vm3') == 1,
          'attachment for the destination vm3: drbdd opened the '
          'dual-primary window, both kernels allow two primaries',
          rd.get('attached'))
    rc, out = brick('vm3', 'connect', info3)
    check(rc == 0 and device_of(out) == dev,
          "os-brick on vm3 connects %s (vm3's %s)" %
          (dev, 'tie-breaker' if d.replicas(name1)['vm3'].get('tie-breaker')
           else 'client'), out)
    rc, out = migrate('vm1', 'vm3')
    running3 = guest('vm3', 'domain_running %s' % DOMAIN)[0] == 0
    gone1 = guest('vm1', 'wait_until 30 domain_gone %s' % DOMAIN)[0] == 0
    check(rc == 0 and running3 and gone1,
          'virsh migrate --live %s vm1 -> vm3 (libvirtd to libvirtd)' %
          DOMAIN, out)
    check(wait_for('roles', lambda: role(name1, 'vm1') == ['Secondary'] and
                   role(name1, 'vm3') == ['Primary'], 60),
          'after the migration: vm3 Primary (its QEMU), vm1 Secondary',
          (role(name1, 'vm1'), role(name1, 'vm3')))
    # Nova's post-live-migration on the source.
    brick('vm1', 'disconnect', info1)
    c.attachments.delete(att1['id'])
    c.attachments.complete(att3['id'])
    check(wait_for('window', lambda: window(name1, 'vm1') == 0 and
                   window(name1, 'vm3') == 0) and
          d.rd(name1).get('attached') == ['vm3'] and
          not d.replicas(name1)['vm1']['diskless'],
          'source attachment deleted: window closed in both kernels, the '
          'diskful replica on vm1 stays', d.rd(name1).get('attached'))
    sum_n = write_at('vm3', name1, 16, 'N')
    sm, sn = sums_at(name1, 8, 'vm3'), sums_at(name1, 16, 'vm3')
    check(sum_m and sum_n and set(sm.values()) == {sum_m} and
          set(sn.values()) == {sum_n},
          'data written before (on vm1) and after the migration (on vm3) '
          'is on the disks of vm1 and vm2 and reads back through vm3',
          (sum_m, sm, sum_n, sn))
    check(wait_for('used-by', lambda: used_by(d, name1, 'vm3') == [DOMAIN] and
                   used_by(d, name1, 'vm1') == []),
          'drbd-nova-helper: %s now shown on vm3' % DOMAIN,
          d.replicas(name1))

    # vm3 gets a storage pool of the group: the domain there now runs
    # disklessly beside local storage, which the helper reports.
    rc, out = guest('vm3', 'set -e; vg_setup; lvcreate -q -L 2G -Zy -T '
                    'drbdpool/thin >/dev/null; '
                    'ctl sp c lvm-thin vm3 pool3 drbdpool/thin')
    seen = rc == 0 and wait_for('alarm', lambda: guest(
        'vm3', 'grep -q "running disklessly: a domain here uses .%s." '
        '/tmp/nova-helper.log' % name1)[0] == 0, 60)
    check(seen, 'vm3 gets a pool of the group: drbd-nova-helper reports '
          '%s running disklessly there' % DOMAIN, out)
    ctl('sp', 'd', 'vm3', 'pool3')

    # Rollback: a migration to vm1 that fails before it starts: the
    # destination's attachment is deleted again.
    att_rb = c.attachments.create(v1.id, oc.connector('vm1'), INSTANCE)
    opened = window(name1, 'vm3') == 1
    c.attachments.delete(att_rb['id'])
    check(opened and wait_for('window', lambda: window(name1, 'vm1') == 0 and
                              window(name1, 'vm3') == 0) and
          role(name1, 'vm3') == ['Primary'] and
          d.rd(name1).get('attached') == ['vm3'],
          'rollback (destination vm1 detached): window closed, vm3 the one '
          'Primary', d.rd(name1).get('attached'))

    # And back: vm3 (no disk) -> vm1, where Nova's detach of the source never
    # comes (it failed between the steps): drbd-nova-helper on vm3, which saw
    # the domain use the volume while the window was open, closes it after
    # its grace (15 s here) by detaching vm3.
    was_tb = d.replicas(name1)['vm3'].get('tie-breaker')
    att1 = c.attachments.create(v1.id, oc.connector('vm1'), INSTANCE)
    brick('vm1', 'connect', nova_info(att1))
    rc, out = migrate('vm3', 'vm1')
    check(rc == 0 and guest('vm1', 'domain_running %s' % DOMAIN)[0] == 0,
          'virsh migrate --live %s vm3 -> vm1' % DOMAIN, out)
    brick('vm3', 'disconnect', info3)
    c.attachments.complete(att1['id'])
    t0 = time.monotonic()
    closed = wait_for('safety net', lambda: d.rd(name1).get('attached') ==
                      ['vm1'] and window(name1, 'vm1') == 0, 150)
    rc, out = guest('vm3', 'grep "closing the dual-primary window of .%s." '
                    '/tmp/nova-helper.log' % name1)
    check(closed and rc == 0,
          "the source's detach never came: drbd-nova-helper on vm3 closed "
          'the window after %.0f s and logged it' % (time.monotonic() - t0),
          (d.rd(name1).get('attached'), out))
    c.attachments.delete(att3['id'])  # late, as Nova would retry it: a no-op
    r3 = d.replicas(name1).get('vm3')
    check(d.rd(name1).get('attached') == ['vm1'] and
          (r3 is not None and r3.get('tie-breaker') if was_tb else r3 is None),
          "vm3 detached: %s" %
          ('its tie-breaker stays (the attach did not create it)' if was_tb
           else 'the client its attach created is gone'), r3)
    check(set(sums_at(name1, 8, 'vm1').values()) == {sum_m} and
          set(sums_at(name1, 16, 'vm1').values()) == {sum_n},
          'after migrating back: both writes on both disks and through vm1')
    return att1


def multiattach(c, nova, d):
    """A multiattach volume attached through Cinder to two servers, on vm1
    (diskful) and vm3 (no disk): both hosts hold it open (Primary) and
    write disjoint regions at once; every acknowledged write reads back and
    the two diskful replicas end identical."""
    vt = c.volume_types.create('drbd-multiattach')
    vt.set_keys({'volume_backend_name': 'drbd', 'multiattach': '<is> True'})
    vm = c.volumes.create(1, name='shared', volume_type='drbd-multiattach')
    vm = wait(c.volumes.get, vm.id, ['available'], timeout=120)
    name = 'CV_' + vm.id
    if not check(vm.status == 'available' and vm.multiattach and
                 wait_uptodate(d, name, 'multiattach volume'),
                 'multiattach volume type: volume available', vm.status):
        return
    atts = []
    for vm_, server in (('vm1', str(uuid.uuid4())), ('vm3', str(uuid.uuid4()))):
        att = nova.attachments.create(vm.id, oc.connector(vm_), server)
        nova.attachments.complete(att['id'])
        atts.append(att)
    check(sorted(d.rd(name).get('attached', [])) == ['vm1', 'vm3'] and
          window(name, 'vm1') == 1 and window(name, 'vm3') == 1,
          'two servers attached (vm1, vm3): the window is open',
          d.rd(name).get('attached'))
    base = {'vm1': 1024, 'vm3': 3072}   # 4 KiB blocks: 4 MiB and 12 MiB on
    for vm_ in ('vm1', 'vm3'):
        guest(vm_, 'rm -f /tmp/ma.log; writer_start $(dev_of %s) /tmp/ma.log %d'
              % (name, base[vm_]))
    both = all(guest(vm_, 'wait_until 60 acks_at_least /tmp/ma.log 20 && '
                     'role_is %s Primary' % name)[0] == 0 for vm_ in ('vm1', 'vm3'))
    check(both, 'vm1 and vm3 both Primary, both writing (20 acknowledged '
          'writes each)')
    ok = True
    for vm_ in ('vm1', 'vm3'):
        rc, out = guest(vm_, 'writer_stop; [ "$(errs /tmp/ma.log)" = 0 ] && '
                        'verify_acks /tmp/ma.log $(dev_of %s) %d' %
                        (name, base[vm_]))
        ok = ok and rc == 0
    sums = sums_at(name, 0)
    full = {n: guest(n, 'dd if=/dev/drbdpool/%s_00000 bs=1M count=16 '
                     'iflag=direct status=none | sha256sum' % name)[1]
            for n in NODES}
    check(ok and len(set(full.values())) == 1 and None not in sums.values(),
          'every acknowledged write of both hosts reads back; the disks of '
          'vm1 and vm2 are identical', full)
    for att in atts:
        nova.attachments.delete(att['id'])
    vm = wait(c.volumes.get, vm.id, ['available'])
    c.volumes.delete(vm)
    check(wait_gone(c.volumes.get, vm.id, timeout=120) and
          d.rd(name) is None, 'both detached, the volume deleted')


def finish(start):
    print('  not run here: copy image to volume / volume to image (cinder-'
          'volume runs on this host, which has no DRBD)')
    print('  lab openstack scenario: %(ok)d ok, %(FAIL)d failed' %
          oc.RESULTS + ' (%.0fs)' % (time.monotonic() - start))
    return 1 if oc.RESULTS['FAIL'] or not oc.RESULTS['ok'] else 0


if __name__ == '__main__':
    sys.exit(main())
