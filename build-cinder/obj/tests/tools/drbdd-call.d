build-cinder/obj/tests/tools/drbdd-call.o: tests/tools/drbdd-call.c \
 drbdd/client/client.h lib/fileio.h lib/json-util.h lib/macro.h
drbdd/client/client.h:
lib/fileio.h:
lib/json-util.h:
lib/macro.h:
