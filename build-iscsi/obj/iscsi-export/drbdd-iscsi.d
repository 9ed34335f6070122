build-iscsi/obj/iscsi-export/drbdd-iscsi.o: iscsi-export/drbdd-iscsi.c \
 lib/json-util.h lib/macro.h lib/log.h iscsi-export/lio.h \
 iscsi-export/lio-configfs.h iscsi-export/lio-names.h
lib/json-util.h:
lib/macro.h:
lib/log.h:
iscsi-export/lio.h:
iscsi-export/lio-configfs.h:
iscsi-export/lio-names.h:
