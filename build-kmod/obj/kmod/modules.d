build-kmod/obj/kmod/modules.o: kmod/modules.c lib/log.h lib/macro.h \
 kmod/modules.h
lib/log.h:
lib/macro.h:
kmod/modules.h:
