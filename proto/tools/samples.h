/* proto/tools/samples: one filled-in example of every message, for tests and the fuzz seed corpus
 * (docs/PROTOCOL.md's hex dump is captured from a real server by proto_capture instead). Not part of
 * the library. */
#ifndef BATTLED_PROTO_TOOLS_SAMPLES_H
#define BATTLED_PROTO_TOOLS_SAMPLES_H

#include "proto/msg.h"

/* Fills *r (zeroed first) with a valid request of the given type; returns 0, or -1 if not a request. */
int sample_request(int type, proto_request *r);

/* Fills *e (zeroed first) with a valid event of the given type; returns 0, or -1 if not an event. */
int sample_event(int type, proto_event *e);

/* A ship description: "scout" (type 0) or "free_trader" (type 1), at full hull. */
void sample_ship(int which, struct proto_ship *s);

#endif
