build-etcd-san/obj/drbdd/model/sizing.o: drbdd/model/sizing.c lib/macro.h \
 drbdd/model/sizing.h
lib/macro.h:
drbdd/model/sizing.h:
