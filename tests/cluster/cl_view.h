/* cl_view: what the cluster tests read from a node's admin /cluster page. */
#ifndef BATTLED_TESTS_CLUSTER_CL_VIEW_H
#define BATTLED_TESTS_CLUSTER_CL_VIEW_H

#include <stdbool.h>
#include <stdint.h>

/* Polls the /cluster page of each admin port in ports (n of them; 0 = skip that one) until it
 * lists `want` nodes, each with its bound game port (none still advertising port 0). Returns
 * false when that did not happen within timeout_ms in all. */
bool cl_wait_formed(const uint16_t *ports, int n, int want, int timeout_ms);

#endif
