/* domain_disks_parse() on domain XML as libvirt 9 writes it (virsh dumpxml of
 * a running QEMU domain), and on hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../domain-disks.h"

static const char *const LIVE =
        "<domain type='qemu' id='1'>\n"
        "  <name>instance-00000001</name>\n"
        "  <uuid>6a1d3c2e-8f4b-4d0e-9d3a-2b7c1e5f9a10</uuid>\n"
        "  <devices>\n"
        "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='/var/lib/nova/instances/x/disk' index='3'/>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n"
        "    <disk type='block' device='disk'>\n"
        "      <driver name='qemu' type='raw' cache='none' io='native'/>\n"
        "      <source dev='/dev/drbd1000' index='2'/>\n"
        "      <backingStore/>\n"
        "      <target dev='vdb' bus='virtio'/>\n"
        "      <serial>0b0e2b6e-1c1f-4b7c-8a5e-3d9f2e1a7c44</serial>\n"
        "      <alias name='virtio-disk1'/>\n"
        "    </disk>\n"
        "    <disk type='block' device='disk'>\n"
        "      <source dev='/dev/drbd/by-res/CV_x/0'/>\n"
        "      <target dev='vdc' bus='virtio'/>\n"
        "    </disk>\n"
        "    <disk type='block' device='cdrom'>\n"
        "      <target dev='sda' bus='sata'/>\n"
        "    </disk>\n"
        "  </devices>\n"
        "</domain>\n";

static void test_live_domain(void **state) {
        DomainDisk *d = NULL;
        size_t n = 99;
        assert_int_equal(domain_disks_parse(LIVE, &d, &n), 0);
        assert_int_equal(n, 2); /* the file disk and the empty cdrom are not block devices with a source */
        assert_string_equal(d[0].source, "/dev/drbd1000");
        assert_string_equal(d[0].target, "vdb");
        assert_string_equal(d[1].source, "/dev/drbd/by-res/CV_x/0");
        assert_string_equal(d[1].target, "vdc");
        domain_disks_free(d, n);
}

static void test_no_disks(void **state) {
        DomainDisk *d = NULL;
        size_t n = 99;
        assert_int_equal(domain_disks_parse("<domain><name>x</name></domain>", &d, &n), 0);
        assert_int_equal(n, 0);
        domain_disks_free(d, n);
}

static void test_hostile(void **state) {
        static const char *const bad[] = {
                "", "<", "not xml", "<domain>", "<network><devices/></network>",
                /* an external entity must not be fetched or expanded into a path */
                "<!DOCTYPE domain [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><domain><devices>"
                "<disk type='block'><source dev='&e;'/><target dev='vdb'/></disk></devices></domain>",
                NULL,
        };
        for (size_t i = 0; bad[i]; i++) {
                DomainDisk *d = NULL;
                size_t n = 0;
                int r = domain_disks_parse(bad[i], &d, &n);
                if (r == 0) { /* parsed: the entity stayed unexpanded */
                        for (size_t k = 0; k < n; k++)
                                assert_null(strstr(d[k].source, "root:"));
                        domain_disks_free(d, n);
                } else
                        assert_int_equal(r, -EINVAL);
        }
        DomainDisk *d = NULL;
        size_t n = 0;
        assert_int_equal(domain_disks_parse(NULL, &d, &n), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_live_domain),
                cmocka_unit_test(test_no_disks),
                cmocka_unit_test(test_hostile),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
