build-iscsi/obj/iscsi-export/lio.o: iscsi-export/lio.c lib/log.h \
 lib/macro.h iscsi-export/lio.h iscsi-export/lio-configfs.h \
 iscsi-export/lio-names.h
lib/log.h:
lib/macro.h:
iscsi-export/lio.h:
iscsi-export/lio-configfs.h:
iscsi-export/lio-names.h:
