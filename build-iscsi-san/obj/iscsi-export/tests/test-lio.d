build-iscsi-san/obj/iscsi-export/tests/test-lio.o: \
 iscsi-export/tests/test-lio.c lib/macro.h iscsi-export/lio.h \
 iscsi-export/lio-configfs.h iscsi-export/lio-names.h
lib/macro.h:
iscsi-export/lio.h:
iscsi-export/lio-configfs.h:
iscsi-export/lio-names.h:
