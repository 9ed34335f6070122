build-kmod/obj/tests/unit/test-events2.o: tests/unit/test-events2.c \
 lib/json-util.h lib/macro.h kmod/events2.h
lib/json-util.h:
lib/macro.h:
kmod/events2.h:
