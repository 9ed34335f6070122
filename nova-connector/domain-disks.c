/* The block-device disks of a libvirt domain, read from its XML. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "domain-disks.h"

void domain_disks_free(DomainDisk *d, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(d[i].target);
                free(d[i].source);
        }
        free(d);
}

static xmlNode *child(xmlNode *n, const char *name) {
        for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
                if (c->type == XML_ELEMENT_NODE && strcmp((const char *) c->name, name) == 0)
                        return c;
        return NULL;
}

/* A copy of attribute name of n, or NULL (absent or empty). */
static char *attr(xmlNode *n, const char *name) {
        xmlChar *v = n ? xmlGetProp(n, (const xmlChar *) name) : NULL;
        char *s = v && *v ? strdup((const char *) v) : NULL;
        xmlFree(v);
        return s;
}

int domain_disks_parse(const char *xml, DomainDisk **ret, size_t *ret_n) {
        DomainDisk *out = NULL;
        size_t n = 0;
        int r = 0;
        if (!xml)
                return -EINVAL;
        xmlDoc *doc = xmlReadMemory(xml, (int) strnlen(xml, 1 << 26), "domain.xml", NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
        if (!root || strcmp((const char *) root->name, "domain") != 0) {
                xmlFreeDoc(doc);
                return -EINVAL;
        }
        for (xmlNode *d = child(root, "devices") ? child(root, "devices")->children : NULL; d; d = d->next) {
                if (d->type != XML_ELEMENT_NODE || strcmp((const char *) d->name, "disk") != 0)
                        continue;
                char *type = attr(d, "type");
                bool block = type && strcmp(type, "block") == 0;
                free(type);
                if (!block)
                        continue;
                char *src = attr(child(d, "source"), "dev"), *tgt = attr(child(d, "target"), "dev");
                if (!src || !tgt) {
                        free(src);
                        free(tgt);
                        continue;
                }
                DomainDisk *grown = realloc(out, (n + 1) * sizeof *out);
                if (!grown) {
                        free(src);
                        free(tgt);
                        r = -ENOMEM;
                        break;
                }
                out = grown;
                out[n++] = (DomainDisk) { .target = tgt, .source = src };
        }
        xmlFreeDoc(doc);
        if (r < 0) {
                domain_disks_free(out, n);
                return r;
        }
        *ret = out;
        *ret_n = n;
        return 0;
}
