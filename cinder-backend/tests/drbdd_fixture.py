"""A real drbdd on a private dbus-daemon, for the driver's tests.

Same setup as tests/integration/lib.sh: a bus that behaves like the system
bus, drbdd with its state in a temporary directory, and a small cluster
defined over D-Bus (nodes, storage pools with --capacity, resource groups).
"""

import os
import shutil
import subprocess
import tempfile
import time

import _drbdd

SRCDIR = os.environ.get('SRCDIR') or os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.environ.get('BUILD', 'build')
if not os.path.isabs(BUILD):
    BUILD = os.path.join(SRCDIR, BUILD)

GIB = 1024 ** 3

BUS_CONF = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

# alpha, beta, gamma hold storage; delta and epsilon are compute-only (one
# of them may get a volume's tie-breaker).
NODES = [('alpha', '10.0.0.1'), ('beta', '10.0.0.2'), ('gamma', '10.0.0.3'),
         ('delta', '10.0.0.4'), ('epsilon', '10.0.0.5')]
COMPUTE_NODES = ['delta', 'epsilon']
STORAGE_NODES = ['alpha', 'beta', 'gamma']
POOL_CAPACITY = 100 * GIB


class DrbddFixture(object):
    def __init__(self, node='alpha'):
        self.node = node
        self.dir = None
        self.address = None
        self._procs = []

    def start(self):
        self.dir = tempfile.mkdtemp(prefix='drbd-cinder.')
        os.chmod(self.dir, 0o755)
        sock = os.path.join(self.dir, 'bus.sock')
        conf = os.path.join(self.dir, 'bus.conf')
        with open(conf, 'w') as f:
            f.write(BUS_CONF % sock)
        self._spawn(['dbus-daemon', '--config-file=' + conf, '--nofork',
                     '--nopidfile'], 'bus.log')
        self.address = 'unix:path=' + sock
        self._wait(lambda: os.path.exists(sock), 'dbus-daemon')
        os.makedirs(os.path.join(self.dir, 'state'))
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self._spawn([os.path.join(BUILD, 'drbdd'), '--config=/dev/null',
                     '--node-name=' + self.node,
                     '--state-dir=' + os.path.join(self.dir, 'state')],
                    'drbdd.log', env)
        self._wait(self._answers, 'drbdd')
        return self

    def _spawn(self, argv, log, env=None):
        with open(os.path.join(self.dir, log), 'ab') as out:
            self._procs.append(subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                stdin=subprocess.DEVNULL))

    def _answers(self):
        try:
            self.call('GetVersion', '')
            return True
        except _drbdd.Error:
            return False

    def _wait(self, ready, what):
        for _ in range(200):
            if ready():
                return
            if any(p.poll() is not None for p in self._procs):
                break
            time.sleep(0.05)
        self.stop(keep=True)
        raise RuntimeError('%s did not come up; logs in %s' % (what,
                                                                self.dir))

    def call(self, method, sig, *args):
        return _drbdd.Client(self.address, 30).call(method, sig, list(args))

    def define_cluster(self, thin=True):
        for name, addr in NODES:
            self.call('CreateNode', 'ssa{sv}', name, addr, {})
        for name in STORAGE_NODES:
            if thin:
                self.call('CreateStoragePool', 'sssa{sv}', name, 'pool1',
                          'lvm-thin', {'volume-group': 'vg',
                                       'thin-pool': 'thin',
                                       'capacity': POOL_CAPACITY})
            else:
                self.call('CreateStoragePool', 'sssa{sv}', name, 'pool1',
                          'lvm', {'volume-group': 'vg',
                                  'capacity': POOL_CAPACITY})
        self.call('CreateResourceGroup', 'sa{sv}', 'cinder',
                  {'place-count': 2, 'storage-pools': ['pool1']})
        self.call('CreateResourceGroup', 'sa{sv}', 'gold',
                  {'place-count': 3, 'storage-pools': ['pool1']})

    def stop(self, keep=False):
        for p in reversed(self._procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self._procs = []
        if self.dir and not keep and not os.environ.get('KEEP_TMP'):
            shutil.rmtree(self.dir, ignore_errors=True)
