/* store: the registry of storage backends (store.h). A new backend adds its
 * store_backend here, by name. */
#include "journal/store.h"

#include "journal/store_redis.h"

#include <stddef.h>
#include <string.h>

static const store_backend *const backends[] = {
    &store_file_backend,
    &store_redis_backend,
};

const store_backend *store_backend_find(const char *name)
{
    if (!name)
        return &store_file_backend;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}
