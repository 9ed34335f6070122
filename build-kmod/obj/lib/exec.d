build-kmod/obj/lib/exec.o: lib/exec.c lib/exec.h lib/log.h lib/macro.h
lib/exec.h:
lib/log.h:
lib/macro.h:
