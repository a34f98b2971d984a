/*
 * Persistent thread pool: threads-1 workers plus the calling JS thread. A job is published by
 * bumping a generation counter; idle workers spin on it for a short while (so back-to-back
 * kernel calls do not pay a futex wake-up) and then sleep on a condition variable, so an idle
 * process burns no CPU.
 */
#define _GNU_SOURCE
#include "tk.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* How long an idle worker (or the caller waiting for workers) spins before sleeping. A decode step
 * leaves gaps of 0.1-0.5 ms between products (attention, sampling, the generation loop); with
 * 100 us the worker had fallen asleep by the next product, and its futex wake-up (tens of us on a
 * VM) delayed the products after each gap: a GPT-2-small decode ran ~10% slower in int8 and bf16
 * than with 1 ms. An idle process still sleeps after 1 ms. */
#define TK_SPIN_NS 1000000LL

typedef struct {
  int threads;                  /* total, counting the caller */
  pthread_t *workers;
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_done;
  atomic_uint gen;              /* bumped once per job */
  unsigned start_gen;           /* gen when the workers were created (no job can be running then) */
  atomic_int pending;           /* participating workers still running the current job */
  atomic_int quit;
  tk_task_fn fn;
  void *ctx;
  int job_nt;
} tk_pool;

static tk_pool pool = {.threads = 1, .mu = PTHREAD_MUTEX_INITIALIZER,
                       .cv_work = PTHREAD_COND_INITIALIZER, .cv_done = PTHREAD_COND_INITIALIZER};
/* Held while a job runs on the pool; a second caller runs its job inline instead. */
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
/* Serialises tk_pool_init. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *worker_main(void *arg) {
  const int index = (int)(intptr_t)arg; /* worker i runs tid i + 1 */
  /* Not the current gen: a job may already have been published before this thread ran. */
  unsigned seen = pool.start_gen;
  for (;;) {
    /* Spin briefly, then sleep until the generation changes. */
    long long start = 0;
    for (int i = 0; atomic_load_explicit(&pool.gen, memory_order_acquire) == seen; i++) {
      if ((i & 255) == 0) {
        const long long t = now_ns();
        if (start == 0) start = t;
        else if (t - start > TK_SPIN_NS) break;
      }
      cpu_relax();
    }
    if (atomic_load_explicit(&pool.gen, memory_order_acquire) == seen) {
      pthread_mutex_lock(&pool.mu);
      while (atomic_load_explicit(&pool.gen, memory_order_acquire) == seen && !atomic_load(&pool.quit))
        pthread_cond_wait(&pool.cv_work, &pool.mu);
      pthread_mutex_unlock(&pool.mu);
    }
    if (atomic_load(&pool.quit)) return NULL;
    seen = atomic_load_explicit(&pool.gen, memory_order_acquire);
    if (index + 1 < pool.job_nt) {
      pool.fn(pool.ctx, index + 1, pool.job_nt);
      if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_signal(&pool.cv_done);
        pthread_mutex_unlock(&pool.mu);
      }
    }
  }
}

static void stop_workers(void) {
  if (!pool.workers) return;
  pthread_mutex_lock(&pool.mu);
  atomic_store(&pool.quit, 1);
  pthread_cond_broadcast(&pool.cv_work);
  pthread_mutex_unlock(&pool.mu);
  for (int i = 0; i < pool.threads - 1; i++) pthread_join(pool.workers[i], NULL);
  free(pool.workers);
  pool.workers = NULL;
  pool.threads = 1;
  atomic_store(&pool.quit, 0);
}

void tk_pool_init(int threads) {
  if (threads < 1) threads = 1;
  pthread_mutex_lock(&init_lock);
  pthread_mutex_lock(&run_lock);
  if (threads != pool.threads || (threads > 1 && !pool.workers)) {
    stop_workers();
    if (threads > 1) {
      pool.start_gen = atomic_load(&pool.gen);
      pool.workers = calloc((size_t)threads - 1, sizeof(pthread_t));
      int started = 0;
      if (pool.workers) {
        for (; started < threads - 1; started++)
          if (pthread_create(&pool.workers[started], NULL, worker_main, (void *)(intptr_t)started) != 0) break;
      }
      pool.threads = started + 1; /* degrade gracefully if thread creation fails */
      if (started == 0) { free(pool.workers); pool.workers = NULL; }
    }
  }
  pthread_mutex_unlock(&run_lock);
  pthread_mutex_unlock(&init_lock);
}

int tk_threads(void) { return pool.threads; }

/* How long the calling thread's last tk_parallel waited for workers after its own share. */
static _Thread_local long long last_wait_ns;

void tk_parallel(int nt, tk_task_fn fn, void *ctx) {
  if (nt > pool.threads) nt = pool.threads;
  if (nt <= 1 || pthread_mutex_trylock(&run_lock) != 0) {
    fn(ctx, 0, 1);
    last_wait_ns = 0;
    return;
  }
  pool.fn = fn;
  pool.ctx = ctx;
  pool.job_nt = nt;
  atomic_store_explicit(&pool.pending, nt - 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
  pthread_mutex_lock(&pool.mu);
  pthread_cond_broadcast(&pool.cv_work);
  pthread_mutex_unlock(&pool.mu);

  fn(ctx, 0, nt);

  long long start = 0;
  for (int i = 0; atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; i++) {
    if ((i & 255) == 0) {
      const long long t = now_ns();
      if (start == 0) start = t;
      else if (t - start > TK_SPIN_NS) break;
    }
    cpu_relax();
  }
  if (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) {
    pthread_mutex_lock(&pool.mu);
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) pthread_cond_wait(&pool.cv_done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
  }
  last_wait_ns = start ? now_ns() - start : 0; /* start: set when a worker was still running */
  pthread_mutex_unlock(&run_lock);
}

long long tk_parallel_wait_ns(void) { return last_wait_ns; }

long long tk_now_ns(void) { return now_ns(); }

/* Whether the next decoding products run on the calling thread alone. When another process keeps
 * the other core busy, the pool worker often starts late (its wake-up waits for that core) or is
 * descheduled in the middle of its share, and the caller, done with its own, waits for it, about a
 * scheduler time slice: under such load half the products of a GPT-2-small int8 decode waited
 * 100-300 us, and the float32 one, whose products split the columns in two static halves, decoded
 * at 12.8 tokens/s on two threads against 50 on one. So when the caller of a product waited for
 * the worker longer than STRAGGLE_NS and than its own share took (half of it when the items go out
 * one at a time; see judge_wait), the next products run on one thread: SOLO_MIN of them, the run
 * doubling while such waits recur (up to SOLO_MAX) and halving after each product the worker kept
 * up with; then the pool is tried again. Per calling thread. */
#define STRAGGLE_NS 20000LL
#define SOLO_MIN 16
#define SOLO_MAX 256 /* ~5 GPT-2-small tokens: a core freed again is used again soon */
static _Thread_local struct {
  int left, run;
} solo;

int tk_decode_threads(void) { return solo.left > 0 ? 1 : pool.threads; }

/* After a pooled product: start, lengthen or shorten a solo run (see above). `halves`: the caller
 * waited beyond `halves` times its own share (2: items handed out one at a time, so a worker that
 * kept up leaves the caller at most one item to wait for; 1: static halves, where a worker that
 * merely ran slower than the caller also keeps it waiting). */
static void judge_wait(long long t0, int halves) {
  const long long wait = last_wait_ns, own = now_ns() - t0 - wait;
  if (wait > STRAGGLE_NS && halves * wait > own) {
    solo.run = solo.run < SOLO_MIN ? SOLO_MIN : solo.run >= SOLO_MAX ? solo.run : 2 * solo.run;
    solo.left = solo.run;
  } else
    solo.run /= 2;
}

void tk_decode_parallel(int nt, tk_task_fn fn, void *ctx) {
  if (nt > 1 && solo.left > 0) {
    solo.left--;
    nt = 1;
  }
  if (nt <= 1 || pool.threads < 2) {
    fn(ctx, 0, 1);
    return;
  }
  const long long t0 = now_ns();
  tk_parallel(nt, fn, ctx);
  judge_wait(t0, 1);
}

void tk_decode_parallel_dynamic(int64_t n, tk_range_fn fn, void *ctx) {
  if (n <= 0) return;
  if (solo.left > 0 || n < 2 || pool.threads < 2) {
    if (solo.left > 0) solo.left--;
    fn(ctx, 0, n);
    return;
  }
  const long long t0 = now_ns();
  tk_parallel_dynamic(n, pool.threads, fn, ctx);
  judge_wait(t0, 2);
}

typedef struct {
  tk_range_fn fn;
  void *ctx;
  int64_t n, align;
  atomic_llong next;
} range_job;

static void static_range_task(void *p, int tid, int nt) {
  range_job *j = p;
  /* Chunk boundaries are multiples of `align` so SIMD loops only see a tail in the last chunk. */
  const int64_t units = (j->n + j->align - 1) / j->align;
  const int64_t b = units * tid / nt * j->align, e0 = units * (tid + 1) / nt * j->align;
  const int64_t e = e0 < j->n ? e0 : j->n;
  if (b < e) j->fn(j->ctx, b, e);
}

void tk_parallel_for(int64_t n, int64_t grain, int64_t align, tk_range_fn fn, void *ctx) {
  last_wait_ns = 0;
  if (n <= 0) return;
  if (align < 1) align = 1;
  int64_t nt = grain > 0 ? n / grain : pool.threads;
  if (nt > pool.threads) nt = pool.threads;
  if (nt <= 1) {
    fn(ctx, 0, n);
    return;
  }
  range_job j = {.fn = fn, .ctx = ctx, .n = n, .align = align};
  tk_parallel((int)nt, static_range_task, &j);
}

static void dynamic_range_task(void *p, int tid, int nt) {
  (void)tid;
  (void)nt;
  range_job *j = p;
  for (;;) {
    const int64_t i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
    if (i >= j->n) return;
    j->fn(j->ctx, i, i + 1);
  }
}

void tk_parallel_dynamic(int64_t n, int nt, tk_range_fn fn, void *ctx) {
  last_wait_ns = 0;
  if (n <= 0) return;
  if (nt > n) nt = (int)n;
  if (nt <= 1) {
    fn(ctx, 0, n);
    return;
  }
  range_job j = {.fn = fn, .ctx = ctx, .n = n, .align = 1};
  atomic_init(&j.next, 0);
  tk_parallel(nt, dynamic_range_task, &j);
}

static _Thread_local struct {
  void *p;
  size_t bytes;
} scratch[8];

void *tk_scratch(int slot, size_t bytes) {
  if (scratch[slot].bytes >= bytes && scratch[slot].p) return scratch[slot].p;
  size_t want = bytes < 4096 ? 4096 : bytes + bytes / 4;
  void *p = NULL;
  if (posix_memalign(&p, 64, want) != 0) return NULL;
  free(scratch[slot].p);
  scratch[slot].p = p;
  scratch[slot].bytes = want;
  return p;
}
