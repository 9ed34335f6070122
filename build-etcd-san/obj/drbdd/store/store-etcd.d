build-etcd-san/obj/drbdd/store/store-etcd.o: drbdd/store/store-etcd.c \
 lib/json-util.h lib/macro.h lib/log.h drbdd/store/store-etcd.h \
 drbdd/store/store.h
lib/json-util.h:
lib/macro.h:
lib/log.h:
drbdd/store/store-etcd.h:
drbdd/store/store.h:
