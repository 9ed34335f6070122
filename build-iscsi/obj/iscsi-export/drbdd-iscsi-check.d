build-iscsi/obj/iscsi-export/drbdd-iscsi-check.o: \
 iscsi-export/drbdd-iscsi-check.c lib/json-util.h lib/macro.h
lib/json-util.h:
lib/macro.h:
