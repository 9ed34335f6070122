build-kmod-san/obj/drbdd/store/store.o: drbdd/store/store.c lib/log.h \
 lib/macro.h drbdd/store/store-etcd.h drbdd/store/store.h
lib/log.h:
lib/macro.h:
drbdd/store/store-etcd.h:
drbdd/store/store.h:
