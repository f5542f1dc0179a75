#include "threads.h"

#include <pthread.h>
#include <stdbool.h>

int th_run_all(int n, void *(*fn)(void *), void *args, size_t arg_size) {
    pthread_t th[64];
    bool started[64] = {false};
    int failed = 0;
    if (n > 64)
        return n;
    for (int i = 0; i < n; i++) {
        started[i] = pthread_create(&th[i], NULL, fn, (char *)args + (size_t)i * arg_size) == 0;
        failed += !started[i];
    }
    for (int i = 0; i < n; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    return failed;
}
