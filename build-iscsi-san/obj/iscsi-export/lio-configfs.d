build-iscsi-san/obj/iscsi-export/lio-configfs.o: \
 iscsi-export/lio-configfs.c lib/log.h lib/macro.h \
 iscsi-export/lio-configfs.h iscsi-export/lio-names.h
lib/log.h:
lib/macro.h:
iscsi-export/lio-configfs.h:
iscsi-export/lio-names.h:
