build-etcd/obj/tests/unit/test-store-etcd.o: tests/unit/test-store-etcd.c \
 lib/macro.h drbdd/store/store-etcd.h drbdd/store/store.h
lib/macro.h:
drbdd/store/store-etcd.h:
drbdd/store/store.h:
