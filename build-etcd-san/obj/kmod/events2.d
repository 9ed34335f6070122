build-etcd-san/obj/kmod/events2.o: kmod/events2.c kmod/events2.h \
 lib/json-util.h lib/macro.h
kmod/events2.h:
lib/json-util.h:
lib/macro.h:
