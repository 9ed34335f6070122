build-iscsi-san/obj/iscsi-export/lio-names.o: iscsi-export/lio-names.c \
 lib/macro.h iscsi-export/lio-names.h
lib/macro.h:
iscsi-export/lio-names.h:
