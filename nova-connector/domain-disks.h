/* The block-device disks of a libvirt domain, read from its XML. */
#pragma once

#include <stddef.h>

typedef struct DomainDisk {
        char *target; /* guest device name, e.g. "vdb": what virDomainBlockResize takes */
        char *source; /* host block device, e.g. "/dev/drbd1000" */
} DomainDisk;

/* Parses a domain's XML description: every <disk type='block'> with a
 * <source dev=...> and a <target dev=...>, in document order. No network
 * access, no entity expansion. Returns 0 and a newly allocated array
 * (possibly empty), -EINVAL for XML that does not parse or has no <domain>
 * root, -ENOMEM. */
int domain_disks_parse(const char *xml, DomainDisk **ret, size_t *ret_n);
void domain_disks_free(DomainDisk *d, size_t n);
