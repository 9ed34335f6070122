build-iscsi/obj/iscsi-export/tests/test-lio-names.o: \
 iscsi-export/tests/test-lio-names.c lib/macro.h iscsi-export/lio-names.h
lib/macro.h:
iscsi-export/lio-names.h:
