/* Hogwild: training threads that update shared weights without locks (libffm's scheme, used by
 * the FFM kernels). Those races are the algorithm, so ThreadSanitizer is told to ignore the
 * functions marked DCTR_HOGWILD; nothing else may race. */
#ifndef DCTR_CORE_HOGWILD_H
#define DCTR_CORE_HOGWILD_H

#if defined(__has_attribute)
#if __has_attribute(no_sanitize)
#define DCTR_HOGWILD __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef DCTR_HOGWILD
#define DCTR_HOGWILD
#endif

#endif
