build-iscsi/obj/iscsi-export/fuzz/fuzz-lio-names.o: \
 iscsi-export/fuzz/fuzz-lio-names.c lib/macro.h iscsi-export/lio-names.h
lib/macro.h:
iscsi-export/lio-names.h:
