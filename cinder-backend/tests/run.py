"""Runs the driver's unit tests and lists what is pending on drbdd.

Pending cases are expected failures (never passes); an unexpected success
means drbdd gained the method and the marker should go.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    start = time.monotonic()
    suite = unittest.defaultTestLoader.loadTestsFromName('test_driver')
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(
        suite)
    n_pending = len(result.expectedFailures)
    n_bad = len(result.failures) + len(result.errors)
    n_pass = (result.testsRun - n_pending - n_bad - len(result.skipped)
              - len(result.unexpectedSuccesses))
    if result.expectedFailures:
        print('\nPending on drbdd (expected failures, not passes):')
        for test, tb in result.expectedFailures:
            why = [ln for ln in tb.splitlines()
                   if ln.startswith('test_driver.PendingOnDaemon')
                   or ln.startswith('PendingOnDaemon')]
            print('  PENDING %s: %s' % (test.id().split('.', 1)[1],
                                         why[-1].split(': ', 2)[1]
                                         if why else '?'))
    for test, why in result.skipped:
        print('  SKIP %s: %s' % (test.id().split('.', 1)[1], why))
    for test in result.unexpectedSuccesses:
        print('  UNEXPECTED PASS %s: drbdd has the method now, drop the '
              '@pending_on_daemon marker' % test.id())
    print('\ncinder-unit: %d passed, %d pending on drbdd, %d skipped, %d failed, '
          '%d unexpected passes (%.1fs)' % (
              n_pass, n_pending, len(result.skipped), n_bad, len(result.unexpectedSuccesses),
              time.monotonic() - start))
    return 0 if result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
