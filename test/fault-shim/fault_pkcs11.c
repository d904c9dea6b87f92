/*
 * fault_pkcs11.c: a fault-injecting PKCS#11 module for notary-hsm's tests.
 *
 * It sits between pkcs11js and a real module (SoftHSM2 by default) and forwards every call,
 * but on command simulates what hardware tokens do and SoftHSM2 cannot: a touch that takes
 * seconds or never comes, a token pulled out (and plugged back in), a PIN retry counter with
 * its token-info flags, a PC/SC stack that is down, a reader with no token.
 *
 * Environment (read when the module is loaded and again at every C_Initialize):
 *   FAULT_PKCS11_MODULE   the real module (default /usr/lib/softhsm/libsofthsm2.so)
 *   FAULT_PKCS11_CONTROL  the control file, `key=value` lines, re-read at every intercepted call
 *   FAULT_PKCS11_STATS    the stats file, rewritten (atomically) whenever a counter changes
 * Without FAULT_PKCS11_CONTROL the module is a plain pass-through. test/fault-shim/README.md
 * documents the control and stats keys; the comments below say how they are implemented.
 *
 * Session handles are virtual: the shim hands out its own, never reused within the process,
 * and maps them to the real module's. That is what lets sessions lost to a "removal" stay
 * invalid after the token is back even though the real module, whose sessions the shim
 * closes at the removal, would hand the same numbers out again.
 *
 * Threads: pkcs11js calls from the main thread and from the libuv threadpool (the *Async
 * methods). g_lock guards all simulated state; it is never held while sleeping, doing file
 * I/O or calling into the real module. g_stats_lock serializes writes of the stats file
 * (taken before g_lock, never the other way round).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pkcs11/pkcs11.h>

#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define POLL_MS 20L           /* how often a waiting sign re-reads the control file */
#define DEFAULT_PIN_TRIES 3L  /* the counter's size when pin_state is used without pin_tries */
#define CONTROL_MAX 8192      /* bytes of the control file that are read */
#define GEN_MAX 64            /* bytes of the generation value that are compared */
#define FIRST_HANDLE 0x10001UL

#define EXPORT __attribute__((visibility("default")))

/* ------------------------------------------------------------------------------------------
 * Control file
 * ---------------------------------------------------------------------------------------- */

enum pin_state { PIN_STATE_NONE, PIN_STATE_OK, PIN_STATE_COUNT_LOW, PIN_STATE_FINAL_TRY,
                 PIN_STATE_LOCKED };

typedef struct {
  long sign_delay_ms;      /* 0: none; N > 0: sleep N ms; -1: wait for the value to change */
  int present;             /* 0: token pulled out */
  long remove_after_signs; /* < 0: off */
  char generation[GEN_MAX];
  long pin_tries;          /* < 1: no PIN counter simulated */
  enum pin_state pin_state;
  int device_error;
  int empty_slots;
  int corrupt_signature;   /* 1: flip a bit of every signature returned */
} control_t;

static void control_defaults(control_t *c) {
  memset(c, 0, sizeof *c);
  c->present = 1;
  c->remove_after_signs = -1;
  c->pin_tries = -1;
  c->pin_state = PIN_STATE_NONE;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\r') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
  return s;
}

/* A whole decimal integer, or 0 (and *out untouched) when the text is not one. */
static int parse_long(const char *text, long *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') return 0;
  *out = v;
  return 1;
}

static void control_line(control_t *c, char *line) {
  line = trim(line);
  if (*line == '\0' || *line == '#') return;
  char *eq = strchr(line, '=');
  if (eq == NULL) return;
  *eq = '\0';
  const char *key = trim(line);
  const char *val = trim(eq + 1);
  long n;
  if (strcmp(key, "sign_delay_ms") == 0) {
    if (parse_long(val, &n)) c->sign_delay_ms = n;
  } else if (strcmp(key, "present") == 0) {
    if (parse_long(val, &n)) c->present = n != 0;
  } else if (strcmp(key, "remove_after_signs") == 0) {
    if (parse_long(val, &n)) c->remove_after_signs = n;
  } else if (strcmp(key, "generation") == 0) {
    snprintf(c->generation, sizeof c->generation, "%s", val);
  } else if (strcmp(key, "pin_tries") == 0) {
    if (parse_long(val, &n)) c->pin_tries = n;
  } else if (strcmp(key, "pin_state") == 0) {
    if (strcmp(val, "ok") == 0) c->pin_state = PIN_STATE_OK;
    else if (strcmp(val, "count_low") == 0) c->pin_state = PIN_STATE_COUNT_LOW;
    else if (strcmp(val, "final_try") == 0) c->pin_state = PIN_STATE_FINAL_TRY;
    else if (strcmp(val, "locked") == 0) c->pin_state = PIN_STATE_LOCKED;
  } else if (strcmp(key, "device_error") == 0) {
    if (parse_long(val, &n)) c->device_error = n != 0;
  } else if (strcmp(key, "empty_slots") == 0) {
    if (parse_long(val, &n)) c->empty_slots = n != 0;
  } else if (strcmp(key, "corrupt_signature") == 0) {
    if (parse_long(val, &n)) c->corrupt_signature = n != 0;
  }
  /* unknown keys and malformed values are ignored: the key keeps its default */
}

/* ------------------------------------------------------------------------------------------
 * State
 * ---------------------------------------------------------------------------------------- */

typedef struct {
  CK_SESSION_HANDLE virt; /* the handle the application holds */
  CK_SESSION_HANDLE real; /* the real module's */
  CK_SLOT_ID slot;
  int lost;               /* the token was removed since the session was opened */
  unsigned busy;          /* calls in flight on the real session */
  int close_pending;      /* lost while busy: the last call out closes the real session */
  int app_closed;         /* closed by the application, waiting for close_pending */
} session_t;

typedef struct {
  unsigned long login_calls, login_incorrect, login_ok, login_locked;
  unsigned long sign_calls, sign_ok, sign_init_calls, sign_waiting;
  unsigned long removals;
} counters_t;

static pthread_mutex_t g_load_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_stats_lock = PTHREAD_MUTEX_INITIALIZER;

static void *g_real_handle;
static CK_FUNCTION_LIST_PTR g_real;
static CK_FUNCTION_LIST g_list;

/* everything below is guarded by g_lock */
static char g_control_path[PATH_MAX];
static char g_stats_path[PATH_MAX];
static counters_t g_counters;
static int g_applied;            /* a control has been applied since the last reset */
static int g_last_present = 1;   /* the token's presence as last observed */
static int g_latched;            /* removed by the remove_after_signs countdown */
static char g_latch_generation[GEN_MAX];
static long g_armed_ras;         /* the remove_after_signs value the countdown was armed with */
static char g_armed_generation[GEN_MAX];
static long g_countdown = -1;    /* signs left before the latch; -1: not counting */
static long g_pin_tries_seen;    /* the pin_tries value last seen (re-arms when it changes) */
static enum pin_state g_pin_state_seen;
static long g_pin_max = -1;      /* the counter's size; -1: not simulated */
static long g_tries_left = -1;
static session_t *g_sessions;
static size_t g_nsessions, g_cap_sessions;
static CK_SESSION_HANDLE g_next_handle = FIRST_HANDLE;

/* guarded by g_stats_lock */
static char g_stats_written[1024];

static void lock(void) { pthread_mutex_lock(&g_lock); }
static void unlock(void) { pthread_mutex_unlock(&g_lock); }

/* Forgets all simulated state (not the sessions): a new control/stats file is a new test. */
static void reset_simulation_locked(void) {
  memset(&g_counters, 0, sizeof g_counters);
  g_applied = 0;
  g_last_present = 1;
  g_latched = 0;
  g_latch_generation[0] = '\0';
  g_countdown = -1;
  g_pin_max = -1;
  g_tries_left = -1;
}

/* Re-reads the FAULT_PKCS11_* paths; a changed path resets the simulation. */
static void refresh_env(void) {
  const char *control = getenv("FAULT_PKCS11_CONTROL");
  const char *stats = getenv("FAULT_PKCS11_STATS");
  pthread_mutex_lock(&g_stats_lock); /* lock order: g_stats_lock, then g_lock */
  lock();
  if (strcmp(g_control_path, control ? control : "") != 0 ||
      strcmp(g_stats_path, stats ? stats : "") != 0) {
    snprintf(g_control_path, sizeof g_control_path, "%s", control ? control : "");
    snprintf(g_stats_path, sizeof g_stats_path, "%s", stats ? stats : "");
    reset_simulation_locked();
    g_stats_written[0] = '\0';
  }
  unlock();
  pthread_mutex_unlock(&g_stats_lock);
}

/* Reads the control file; a missing or unreadable file means all defaults. */
static void read_control(control_t *c) {
  char path[PATH_MAX];
  char buf[CONTROL_MAX + 1];
  control_defaults(c);
  lock();
  memcpy(path, g_control_path, sizeof path);
  unlock();
  if (path[0] == '\0') return;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t len = 0;
  while (len < CONTROL_MAX) {
    ssize_t n = read(fd, buf + len, CONTROL_MAX - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    control_line(c, line);
}

/* The removal latch: the token counts as pulled out until `generation` changes. */
static void latch_locked(const char *generation) {
  g_latched = 1;
  g_countdown = -1;
  snprintf(g_latch_generation, sizeof g_latch_generation, "%s", generation);
}

/* Real handles of sessions to close, collected under the lock and closed after it. */
typedef struct {
  CK_SESSION_HANDLE *handles;
  size_t n;
} closing_t;

/*
 * Marks every live session lost and collects the real handles to close. A real session with
 * a call in flight is closed when that call is out (session_exit), never under it: SoftHSM2
 * would free it in use, and could hand its number to a new session meanwhile.
 */
static void lose_sessions_locked(closing_t *out) {
  out->handles = NULL;
  out->n = 0;
  if (g_nsessions == 0) return;
  out->handles = malloc(g_nsessions * sizeof *out->handles);
  for (size_t i = 0; i < g_nsessions; i++) {
    session_t *s = &g_sessions[i];
    if (s->lost) continue;
    s->lost = 1;
    if (s->busy > 0) s->close_pending = 1;
    else if (out->handles) out->handles[out->n++] = s->real;
  }
}

static void close_real(closing_t *c) {
  for (size_t i = 0; i < c->n; i++)
    if (g_real && g_real->C_CloseSession) g_real->C_CloseSession(c->handles[i]);
  free(c->handles);
  c->handles = NULL;
  c->n = 0;
}

/* Notes a removal if the token was present until now (under g_lock). */
static void observe_presence_locked(int present, closing_t *closing) {
  if (!present && g_last_present) {
    g_counters.removals++;
    lose_sessions_locked(closing);
  }
  g_last_present = present;
}

/*
 * Applies a freshly read control to the state and returns whether the token is present.
 *
 * remove_after_signs/generation rule: the pair (remove_after_signs, generation) arms the
 * countdown whenever it differs from the pair it was last armed with. After that many more
 * successful signatures the token is latched as removed (nothing is written to the control
 * file). The latch holds until the control file's `generation` differs from the one in
 * force when it latched; the new generation also re-arms the countdown if remove_after_signs
 * is still there. `present=0` removes the token independently of the latch.
 *
 * PIN counter rule: a changed pin_tries value (absent counts as a value) re-arms the counter
 * with N tries; a changed pin_state value forces the counter once (ok: N, count_low: N-1 but
 * at least 1, final_try: 1, locked: 0). pin_state without pin_tries simulates N = 3.
 */
static int apply_control(const control_t *c) {
  closing_t closing = {NULL, 0};
  lock();
  if (g_latched && strcmp(c->generation, g_latch_generation) != 0) g_latched = 0;
  if (!g_applied || c->remove_after_signs != g_armed_ras ||
      strcmp(c->generation, g_armed_generation) != 0) {
    g_armed_ras = c->remove_after_signs;
    snprintf(g_armed_generation, sizeof g_armed_generation, "%s", c->generation);
    g_countdown = c->remove_after_signs >= 0 ? c->remove_after_signs : -1;
    if (g_countdown == 0) latch_locked(c->generation);
  }
  if (!g_applied || c->pin_tries != g_pin_tries_seen) {
    g_pin_tries_seen = c->pin_tries;
    g_pin_max = c->pin_tries >= 1 ? c->pin_tries : -1;
    g_tries_left = g_pin_max;
  }
  if (!g_applied || c->pin_state != g_pin_state_seen) {
    g_pin_state_seen = c->pin_state;
    if (c->pin_state != PIN_STATE_NONE && g_pin_max < 1) g_pin_max = DEFAULT_PIN_TRIES;
    switch (c->pin_state) {
    case PIN_STATE_NONE: break;
    case PIN_STATE_OK: g_tries_left = g_pin_max; break;
    case PIN_STATE_COUNT_LOW: g_tries_left = g_pin_max > 1 ? g_pin_max - 1 : 1; break;
    case PIN_STATE_FINAL_TRY: g_tries_left = 1; break;
    case PIN_STATE_LOCKED: g_tries_left = 0; break;
    }
  }
  g_applied = 1;
  int present = c->present && !g_latched && !c->empty_slots;
  observe_presence_locked(present, &closing);
  unlock();
  close_real(&closing);
  return present;
}

/* Reads and applies the control; returns presence. */
static int refresh(control_t *c) {
  read_control(c);
  return apply_control(c);
}

/* ------------------------------------------------------------------------------------------
 * Stats
 * ---------------------------------------------------------------------------------------- */

static size_t live_sessions_locked(void) {
  size_t n = 0;
  for (size_t i = 0; i < g_nsessions; i++)
    if (!g_sessions[i].lost) n++;
  return n;
}

/* Rewrites the stats file (temp file + rename) if anything changed since the last write. */
static void stats_flush(void) {
  char text[sizeof g_stats_written];
  char path[PATH_MAX];
  pthread_mutex_lock(&g_stats_lock);
  lock();
  memcpy(path, g_stats_path, sizeof path);
  snprintf(text, sizeof text,
           "login_calls=%lu\nlogin_incorrect=%lu\nlogin_ok=%lu\nlogin_locked=%lu\n"
           "sign_calls=%lu\nsign_ok=%lu\nsign_init_calls=%lu\nsign_waiting=%lu\n"
           "open_sessions=%zu\nremovals=%lu\npresent=%d\npin_tries_left=%ld\n",
           g_counters.login_calls, g_counters.login_incorrect, g_counters.login_ok,
           g_counters.login_locked, g_counters.sign_calls, g_counters.sign_ok,
           g_counters.sign_init_calls, g_counters.sign_waiting, live_sessions_locked(),
           g_counters.removals, g_last_present, g_tries_left);
  unlock();
  if (path[0] != '\0' && strcmp(text, g_stats_written) != 0) {
    char tmp[PATH_MAX + 32];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n > 0 && (size_t)n < sizeof tmp) {
      int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd >= 0) {
        size_t len = strlen(text), off = 0;
        while (off < len) {
          ssize_t w = write(fd, text + off, len - off);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) break;
          off += (size_t)w;
        }
        close(fd);
        if (off == len && rename(tmp, path) == 0)
          memcpy(g_stats_written, text, sizeof text);
        else
          unlink(tmp);
      }
    }
  }
  pthread_mutex_unlock(&g_stats_lock);
}

/* ------------------------------------------------------------------------------------------
 * Sessions
 * ---------------------------------------------------------------------------------------- */

/* The entry of `virt`, including one the application has closed already. */
static session_t *find_entry_locked(CK_SESSION_HANDLE virt) {
  for (size_t i = 0; i < g_nsessions; i++)
    if (g_sessions[i].virt == virt) return &g_sessions[i];
  return NULL;
}

/* The session `virt` as the application sees it. */
static session_t *find_session_locked(CK_SESSION_HANDLE virt) {
  session_t *s = find_entry_locked(virt);
  return s && !s->app_closed ? s : NULL;
}

static void remove_session_locked(session_t *s) {
  *s = g_sessions[--g_nsessions];
}

/* Adds a session; returns its virtual handle, or 0 when out of memory. */
static CK_SESSION_HANDLE add_session_locked(CK_SESSION_HANDLE real, CK_SLOT_ID slot) {
  if (g_nsessions == g_cap_sessions) {
    size_t cap = g_cap_sessions ? 2 * g_cap_sessions : 16;
    session_t *grown = realloc(g_sessions, cap * sizeof *grown);
    if (grown == NULL) return 0;
    g_sessions = grown;
    g_cap_sessions = cap;
  }
  session_t *s = &g_sessions[g_nsessions++];
  memset(s, 0, sizeof *s);
  s->virt = g_next_handle++;
  s->real = real;
  s->slot = slot;
  return s->virt;
}

/* Sessions lost to a removal: CKR_DEVICE_REMOVED while the token is out, then
 * CKR_SESSION_HANDLE_INVALID (a re-inserted token does not know them). */
static CK_RV lost_rv(int present) {
  return present ? CKR_SESSION_HANDLE_INVALID : CKR_DEVICE_REMOVED;
}

/* Whether `virt` is usable, under g_lock; on CKR_OK, *real is its real handle. */
static CK_RV session_check_locked(CK_SESSION_HANDLE virt, int present, CK_SESSION_HANDLE *real) {
  session_t *s = find_session_locked(virt);
  if (s == NULL) return CKR_SESSION_HANDLE_INVALID;
  if (s->lost) return lost_rv(present);
  *real = s->real;
  return CKR_OK;
}

/*
 * The entry of every session-based call: refreshes the control and maps the handle. On
 * CKR_OK the session is busy until the matching session_exit.
 */
static CK_RV session_enter(CK_SESSION_HANDLE virt, CK_SESSION_HANDLE *real, control_t *c) {
  int present = refresh(c);
  lock();
  CK_RV rv = session_check_locked(virt, present, real);
  if (rv == CKR_OK) find_session_locked(virt)->busy++;
  unlock();
  return rv;
}

/* Re-checks a busy session (after a wait): refreshes the control, keeps it busy. */
static CK_RV session_recheck(CK_SESSION_HANDLE virt, CK_SESSION_HANDLE *real, control_t *c) {
  int present = refresh(c);
  lock();
  CK_RV rv = session_check_locked(virt, present, real);
  unlock();
  return rv;
}

/* The end of a call that session_enter let in: closes a real session lost meanwhile. */
static void session_exit(CK_SESSION_HANDLE virt) {
  CK_SESSION_HANDLE real = 0;
  int close_it = 0;
  lock();
  session_t *s = find_entry_locked(virt);
  if (s != NULL) {
    if (s->busy > 0) s->busy--;
    if (s->busy == 0 && s->close_pending) {
      close_it = 1;
      real = s->real;
      s->close_pending = 0;
      if (s->app_closed) remove_session_locked(s);
    }
  }
  unlock();
  if (close_it) g_real->C_CloseSession(real);
}

/* ------------------------------------------------------------------------------------------
 * Loading the real module
 * ---------------------------------------------------------------------------------------- */

static void install_overrides(void);

static CK_RV ensure_loaded(void) {
  CK_RV rv = CKR_OK;
  pthread_mutex_lock(&g_load_lock);
  if (g_real == NULL) {
    const char *path = getenv("FAULT_PKCS11_MODULE");
    if (path == NULL || *path == '\0') path = DEFAULT_MODULE;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
      fprintf(stderr, "fault-pkcs11: cannot load %s: %s\n", path, dlerror());
      rv = CKR_GENERAL_ERROR;
    } else {
      CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
      CK_FUNCTION_LIST_PTR list = NULL;
      if (get == NULL || get(&list) != CKR_OK || list == NULL) {
        fprintf(stderr, "fault-pkcs11: %s has no usable C_GetFunctionList\n", path);
        dlclose(handle);
        rv = CKR_GENERAL_ERROR;
      } else {
        g_real_handle = handle;
        g_list = *list;
        install_overrides();
        g_real = list;
      }
    }
  }
  pthread_mutex_unlock(&g_load_lock);
  if (rv == CKR_OK) refresh_env();
  return rv;
}

__attribute__((destructor)) static void unload_real(void) {
  /* like unloading the real module directly: pkcs11js close() dlcloses us */
  if (g_real_handle) dlclose(g_real_handle);
  g_real_handle = NULL;
  g_real = NULL;
  free(g_sessions);
  g_sessions = NULL;
  g_nsessions = g_cap_sessions = 0;
}

/* ------------------------------------------------------------------------------------------
 * General-purpose and slot/token functions
 * ---------------------------------------------------------------------------------------- */

static CK_RV shim_C_Initialize(CK_VOID_PTR pInitArgs) {
  control_t c;
  refresh_env();
  refresh(&c);
  CK_RV rv = c.device_error ? CKR_DEVICE_ERROR : g_real->C_Initialize(pInitArgs);
  stats_flush();
  return rv;
}

static CK_RV shim_C_Finalize(CK_VOID_PTR pReserved) {
  CK_RV rv = g_real->C_Finalize(pReserved);
  if (rv == CKR_OK) {
    lock();
    g_nsessions = 0; /* the real module closed them all */
    unlock();
  }
  stats_flush();
  return rv;
}

static CK_RV shim_C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
                                CK_ULONG_PTR pulCount) {
  control_t c;
  CK_RV rv;
  int present = refresh(&c);
  if (c.device_error) {
    rv = CKR_DEVICE_ERROR;
  } else if (c.empty_slots || (tokenPresent && !present)) {
    if (pulCount == NULL) {
      rv = CKR_ARGUMENTS_BAD;
    } else {
      *pulCount = 0;
      rv = CKR_OK;
    }
  } else {
    rv = g_real->C_GetSlotList(tokenPresent, pSlotList, pulCount);
  }
  stats_flush();
  return rv;
}

static CK_RV shim_C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo) {
  control_t c;
  CK_RV rv;
  int present = refresh(&c);
  if (c.empty_slots) {
    rv = CKR_SLOT_ID_INVALID;
  } else {
    rv = g_real->C_GetSlotInfo(slotID, pInfo);
    if (rv == CKR_OK && pInfo != NULL && !present) pInfo->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
  }
  stats_flush();
  return rv;
}

/* The slot-level answer when the token is gone, or CKR_OK to go on. */
static CK_RV token_gate(const control_t *c, int present) {
  if (c->empty_slots) return CKR_SLOT_ID_INVALID;
  if (!present) return CKR_TOKEN_NOT_PRESENT;
  return CKR_OK;
}

static CK_RV shim_C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo) {
  control_t c;
  CK_RV rv = token_gate(&c, refresh(&c));
  if (rv == CKR_OK) rv = g_real->C_GetTokenInfo(slotID, pInfo);
  if (rv == CKR_OK && pInfo != NULL) {
    lock();
    if (g_pin_max >= 1) {
      CK_FLAGS f = pInfo->flags & ~(CK_FLAGS)(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY |
                                              CKF_USER_PIN_LOCKED);
      if (g_tries_left < g_pin_max) f |= CKF_USER_PIN_COUNT_LOW;
      if (g_tries_left == 1) f |= CKF_USER_PIN_FINAL_TRY;
      if (g_tries_left == 0) f |= CKF_USER_PIN_LOCKED;
      pInfo->flags = f;
    }
    unlock();
  }
  stats_flush();
  return rv;
}

static CK_RV shim_C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                                     CK_ULONG_PTR pulCount) {
  control_t c;
  CK_RV rv = token_gate(&c, refresh(&c));
  if (rv == CKR_OK) rv = g_real->C_GetMechanismList(slotID, pMechanismList, pulCount);
  stats_flush();
  return rv;
}

static CK_RV shim_C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                     CK_MECHANISM_INFO_PTR pInfo) {
  control_t c;
  CK_RV rv = token_gate(&c, refresh(&c));
  if (rv == CKR_OK) rv = g_real->C_GetMechanismInfo(slotID, type, pInfo);
  stats_flush();
  return rv;
}

static CK_RV shim_C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                              CK_UTF8CHAR_PTR pLabel) {
  control_t c;
  CK_RV rv = token_gate(&c, refresh(&c));
  if (rv == CKR_OK) rv = g_real->C_InitToken(slotID, pPin, ulPinLen, pLabel);
  stats_flush();
  return rv;
}

/* ------------------------------------------------------------------------------------------
 * Session management
 * ---------------------------------------------------------------------------------------- */

static CK_RV shim_C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                                CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession) {
  control_t c;
  CK_RV rv = token_gate(&c, refresh(&c));
  if (rv == CKR_OK && phSession == NULL) rv = CKR_ARGUMENTS_BAD;
  if (rv == CKR_OK) {
    /* Notify callbacks, if the real module made any, would name the real handle */
    CK_SESSION_HANDLE real = 0;
    rv = g_real->C_OpenSession(slotID, flags, pApplication, Notify, &real);
    if (rv == CKR_OK) {
      lock();
      CK_SESSION_HANDLE virt = add_session_locked(real, slotID);
      int gone = !g_last_present; /* removed while the session was being opened */
      if (virt != 0 && gone) remove_session_locked(find_entry_locked(virt));
      unlock();
      if (virt == 0 || gone) {
        g_real->C_CloseSession(real);
        rv = virt == 0 ? CKR_HOST_MEMORY : CKR_DEVICE_REMOVED;
      } else {
        *phSession = virt;
      }
    }
  }
  stats_flush();
  return rv;
}

static CK_RV shim_C_CloseSession(CK_SESSION_HANDLE hSession) {
  control_t c;
  int present = refresh(&c);
  CK_RV rv;
  CK_SESSION_HANDLE real = 0;
  int forward = 0;
  lock();
  session_t *s = find_session_locked(hSession);
  if (s == NULL) {
    rv = CKR_SESSION_HANDLE_INVALID;
  } else if (s->lost) {
    /* its real session is closed already, or will be by the call still in flight */
    rv = lost_rv(present);
    if (s->close_pending) s->app_closed = 1;
    else remove_session_locked(s);
  } else {
    rv = CKR_OK;
    forward = 1;
    real = s->real;
    remove_session_locked(s);
  }
  unlock();
  if (forward) rv = g_real->C_CloseSession(real);
  stats_flush();
  return rv;
}

static CK_RV shim_C_CloseAllSessions(CK_SLOT_ID slotID) {
  control_t c;
  refresh(&c);
  CK_RV rv = g_real->C_CloseAllSessions(slotID);
  if (rv == CKR_OK) {
    lock();
    for (size_t i = g_nsessions; i-- > 0;)
      if (g_sessions[i].slot == slotID) remove_session_locked(&g_sessions[i]);
    unlock();
  }
  stats_flush();
  return rv;
}

static CK_RV shim_C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                          CK_ULONG ulPinLen) {
  control_t c;
  CK_SESSION_HANDLE real = 0;
  int counted = userType == CKU_USER || userType == CKU_CONTEXT_SPECIFIC;
  lock();
  g_counters.login_calls++;
  unlock();
  CK_RV rv = session_enter(hSession, &real, &c);
  if (rv == CKR_OK) {
    lock();
    int locked = counted && g_pin_max >= 1 && g_tries_left == 0;
    if (locked) g_counters.login_locked++;
    unlock();
    if (locked) {
      rv = CKR_PIN_LOCKED;
    } else {
      rv = g_real->C_Login(real, userType, pPin, ulPinLen);
      lock();
      if (rv == CKR_PIN_INCORRECT) {
        g_counters.login_incorrect++;
        if (counted && g_pin_max >= 1 && g_tries_left > 0) g_tries_left--;
      } else if (rv == CKR_OK) {
        g_counters.login_ok++;
        if (counted && g_pin_max >= 1) g_tries_left = g_pin_max;
      }
      unlock();
    }
    session_exit(hSession);
  }
  stats_flush();
  return rv;
}

/* ------------------------------------------------------------------------------------------
 * Signing: the touch delay, the stats and the removal countdown
 * ---------------------------------------------------------------------------------------- */

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000L, (ms % 1000L) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/*
 * Waits for the "touch": sign_delay_ms > 0 sleeps that long, -1 until the control file's
 * value is something else. Either wait ends early when the token is removed; the caller's
 * session_recheck then answers CKR_DEVICE_REMOVED.
 */
static void wait_for_touch(long delay_ms) {
  if (delay_ms == 0) return;
  lock();
  g_counters.sign_waiting++;
  unlock();
  stats_flush();
  long deadline = now_ms() + delay_ms;
  for (;;) {
    long step = POLL_MS;
    if (delay_ms > 0) {
      long left = deadline - now_ms();
      if (left <= 0) break;
      if (left < step) step = left;
    }
    sleep_ms(step);
    control_t c;
    if (!refresh(&c)) break;
    if (delay_ms < 0 && c.sign_delay_ms != -1) break;
  }
  lock();
  g_counters.sign_waiting--;
  unlock();
}

/* After a successful signature: counts it and runs the removal countdown. */
static void sign_succeeded(void) {
  closing_t closing = {NULL, 0};
  lock();
  g_counters.sign_ok++;
  if (g_countdown > 0 && --g_countdown == 0) {
    latch_locked(g_armed_generation);
    observe_presence_locked(0, &closing);
  }
  unlock();
  close_real(&closing);
}

/* C_Sign (final == 0) and C_SignFinal (final == 1). */
static CK_RV sign_common(int final, CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
                         CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                         CK_ULONG_PTR pulSignatureLen) {
  control_t c;
  CK_SESSION_HANDLE real = 0;
  CK_RV rv = session_enter(hSession, &real, &c);
  if (rv != CKR_OK) {
    stats_flush();
    return rv;
  }
  if (pSignature != NULL) {
    /* a real signature, not a length query: this is where a token wants its touch */
    lock();
    g_counters.sign_calls++;
    unlock();
    wait_for_touch(c.sign_delay_ms < -1 ? 0 : c.sign_delay_ms);
    rv = session_recheck(hSession, &real, &c); /* pulled out while waiting? */
  }
  if (rv == CKR_OK) {
    rv = final ? g_real->C_SignFinal(real, pSignature, pulSignatureLen)
               : g_real->C_Sign(real, pData, ulDataLen, pSignature, pulSignatureLen);
    if (rv == CKR_OK && pSignature != NULL) {
      /* a token that answers with a wrong signature (a fault, a bug in its firmware) */
      if (c.corrupt_signature && *pulSignatureLen > 0) pSignature[*pulSignatureLen - 1] ^= 0x01;
      sign_succeeded();
    }
  }
  session_exit(hSession);
  stats_flush();
  return rv;
}

static CK_RV shim_C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                         CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen) {
  return sign_common(0, hSession, pData, ulDataLen, pSignature, pulSignatureLen);
}

static CK_RV shim_C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                              CK_ULONG_PTR pulSignatureLen) {
  return sign_common(1, hSession, NULL, 0, pSignature, pulSignatureLen);
}

static CK_RV shim_C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                             CK_OBJECT_HANDLE hKey) {
  control_t c;
  CK_SESSION_HANDLE real = 0;
  lock();
  g_counters.sign_init_calls++;
  unlock();
  CK_RV rv = session_enter(hSession, &real, &c);
  if (rv == CKR_OK) {
    rv = g_real->C_SignInit(real, pMechanism, hKey);
    session_exit(hSession);
  }
  stats_flush();
  return rv;
}

/* ------------------------------------------------------------------------------------------
 * Every other session-based function: check the session, map the handle, forward.
 * ---------------------------------------------------------------------------------------- */

#define SESSION_FN(name, params, args)                                        \
  static CK_RV shim_##name params {                                           \
    control_t c_;                                                             \
    CK_SESSION_HANDLE real_ = 0;                                              \
    CK_RV rv_ = session_enter(hSession, &real_, &c_);                         \
    if (rv_ == CKR_OK) {                                                      \
      rv_ = g_real->name ? g_real->name args : CKR_FUNCTION_NOT_SUPPORTED;    \
      session_exit(hSession);                                                 \
    }                                                                         \
    stats_flush();                                                            \
    return rv_;                                                               \
  }

/* clang-format off */
SESSION_FN(C_InitPIN, (CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen),
           (real_, pPin, ulPinLen))
SESSION_FN(C_SetPIN, (CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
                      CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen),
           (real_, pOldPin, ulOldLen, pNewPin, ulNewLen))
SESSION_FN(C_GetSessionInfo, (CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo),
           (real_, pInfo))
SESSION_FN(C_GetOperationState, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                 CK_ULONG_PTR pulOperationStateLen),
           (real_, pOperationState, pulOperationStateLen))
SESSION_FN(C_SetOperationState, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                 CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
                                 CK_OBJECT_HANDLE hAuthenticationKey),
           (real_, pOperationState, ulOperationStateLen, hEncryptionKey, hAuthenticationKey))
SESSION_FN(C_Logout, (CK_SESSION_HANDLE hSession), (real_))
SESSION_FN(C_CreateObject, (CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                            CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject),
           (real_, pTemplate, ulCount, phObject))
SESSION_FN(C_CopyObject, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                          CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                          CK_OBJECT_HANDLE_PTR phNewObject),
           (real_, hObject, pTemplate, ulCount, phNewObject))
SESSION_FN(C_DestroyObject, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject),
           (real_, hObject))
SESSION_FN(C_GetObjectSize, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                             CK_ULONG_PTR pulSize),
           (real_, hObject, pulSize))
SESSION_FN(C_GetAttributeValue, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                 CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount),
           (real_, hObject, pTemplate, ulCount))
SESSION_FN(C_SetAttributeValue, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                 CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount),
           (real_, hObject, pTemplate, ulCount))
SESSION_FN(C_FindObjectsInit, (CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                               CK_ULONG ulCount),
           (real_, pTemplate, ulCount))
SESSION_FN(C_FindObjects, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                           CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount),
           (real_, phObject, ulMaxObjectCount, pulObjectCount))
SESSION_FN(C_FindObjectsFinal, (CK_SESSION_HANDLE hSession), (real_))
SESSION_FN(C_EncryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_OBJECT_HANDLE hKey),
           (real_, pMechanism, hKey))
SESSION_FN(C_Encrypt, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                       CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen),
           (real_, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen))
SESSION_FN(C_EncryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                             CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen),
           (real_, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen))
SESSION_FN(C_EncryptFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                            CK_ULONG_PTR pulLastEncryptedPartLen),
           (real_, pLastEncryptedPart, pulLastEncryptedPartLen))
SESSION_FN(C_DecryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_OBJECT_HANDLE hKey),
           (real_, pMechanism, hKey))
SESSION_FN(C_Decrypt, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
                       CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen),
           (real_, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen))
SESSION_FN(C_DecryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                             CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                             CK_ULONG_PTR pulPartLen),
           (real_, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen))
SESSION_FN(C_DecryptFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
                            CK_ULONG_PTR pulLastPartLen),
           (real_, pLastPart, pulLastPartLen))
SESSION_FN(C_DigestInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism),
           (real_, pMechanism))
SESSION_FN(C_Digest, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                      CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen),
           (real_, pData, ulDataLen, pDigest, pulDigestLen))
SESSION_FN(C_DigestUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen),
           (real_, pPart, ulPartLen))
SESSION_FN(C_DigestKey, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey), (real_, hKey))
SESSION_FN(C_DigestFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
                           CK_ULONG_PTR pulDigestLen),
           (real_, pDigest, pulDigestLen))
SESSION_FN(C_SignUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen),
           (real_, pPart, ulPartLen))
SESSION_FN(C_SignRecoverInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                               CK_OBJECT_HANDLE hKey),
           (real_, pMechanism, hKey))
SESSION_FN(C_SignRecover, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                           CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen),
           (real_, pData, ulDataLen, pSignature, pulSignatureLen))
SESSION_FN(C_VerifyInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                          CK_OBJECT_HANDLE hKey),
           (real_, pMechanism, hKey))
SESSION_FN(C_Verify, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                      CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen),
           (real_, pData, ulDataLen, pSignature, ulSignatureLen))
SESSION_FN(C_VerifyUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen),
           (real_, pPart, ulPartLen))
SESSION_FN(C_VerifyFinal, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                           CK_ULONG ulSignatureLen),
           (real_, pSignature, ulSignatureLen))
SESSION_FN(C_VerifyRecoverInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                 CK_OBJECT_HANDLE hKey),
           (real_, pMechanism, hKey))
SESSION_FN(C_VerifyRecover, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                             CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen),
           (real_, pSignature, ulSignatureLen, pData, pulDataLen))
SESSION_FN(C_DigestEncryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                   CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                   CK_ULONG_PTR pulEncryptedPartLen),
           (real_, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen))
SESSION_FN(C_DecryptDigestUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                   CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                   CK_ULONG_PTR pulPartLen),
           (real_, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen))
SESSION_FN(C_SignEncryptUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                 CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                 CK_ULONG_PTR pulEncryptedPartLen),
           (real_, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen))
SESSION_FN(C_DecryptVerifyUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                   CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                   CK_ULONG_PTR pulPartLen),
           (real_, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen))
SESSION_FN(C_GenerateKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                           CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey),
           (real_, pMechanism, pTemplate, ulCount, phKey))
SESSION_FN(C_GenerateKeyPair, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                               CK_ATTRIBUTE_PTR pPublicKeyTemplate,
                               CK_ULONG ulPublicKeyAttributeCount,
                               CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
                               CK_ULONG ulPrivateKeyAttributeCount,
                               CK_OBJECT_HANDLE_PTR phPublicKey,
                               CK_OBJECT_HANDLE_PTR phPrivateKey),
           (real_, pMechanism, pPublicKeyTemplate, ulPublicKeyAttributeCount,
            pPrivateKeyTemplate, ulPrivateKeyAttributeCount, phPublicKey, phPrivateKey))
SESSION_FN(C_WrapKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                       CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                       CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen),
           (real_, pMechanism, hWrappingKey, hKey, pWrappedKey, pulWrappedKeyLen))
SESSION_FN(C_UnwrapKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                         CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                         CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                         CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey),
           (real_, pMechanism, hUnwrappingKey, pWrappedKey, ulWrappedKeyLen, pTemplate,
            ulAttributeCount, phKey))
SESSION_FN(C_DeriveKey, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                         CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
                         CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey),
           (real_, pMechanism, hBaseKey, pTemplate, ulAttributeCount, phKey))
SESSION_FN(C_SeedRandom, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen),
           (real_, pSeed, ulSeedLen))
SESSION_FN(C_GenerateRandom, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
                              CK_ULONG ulRandomLen),
           (real_, RandomData, ulRandomLen))
SESSION_FN(C_GetFunctionStatus, (CK_SESSION_HANDLE hSession), (real_))
SESSION_FN(C_CancelFunction, (CK_SESSION_HANDLE hSession), (real_))
/* clang-format on */

/* ------------------------------------------------------------------------------------------
 * The function list
 * ---------------------------------------------------------------------------------------- */

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);

static void install_overrides(void) {
  /* C_GetInfo and C_WaitForSlotEvent pass straight through */
  g_list.C_GetFunctionList = C_GetFunctionList;
#define OVERRIDE(name) g_list.name = shim_##name
  OVERRIDE(C_Initialize);
  OVERRIDE(C_Finalize);
  OVERRIDE(C_GetSlotList);
  OVERRIDE(C_GetSlotInfo);
  OVERRIDE(C_GetTokenInfo);
  OVERRIDE(C_GetMechanismList);
  OVERRIDE(C_GetMechanismInfo);
  OVERRIDE(C_InitToken);
  OVERRIDE(C_InitPIN);
  OVERRIDE(C_SetPIN);
  OVERRIDE(C_OpenSession);
  OVERRIDE(C_CloseSession);
  OVERRIDE(C_CloseAllSessions);
  OVERRIDE(C_GetSessionInfo);
  OVERRIDE(C_GetOperationState);
  OVERRIDE(C_SetOperationState);
  OVERRIDE(C_Login);
  OVERRIDE(C_Logout);
  OVERRIDE(C_CreateObject);
  OVERRIDE(C_CopyObject);
  OVERRIDE(C_DestroyObject);
  OVERRIDE(C_GetObjectSize);
  OVERRIDE(C_GetAttributeValue);
  OVERRIDE(C_SetAttributeValue);
  OVERRIDE(C_FindObjectsInit);
  OVERRIDE(C_FindObjects);
  OVERRIDE(C_FindObjectsFinal);
  OVERRIDE(C_EncryptInit);
  OVERRIDE(C_Encrypt);
  OVERRIDE(C_EncryptUpdate);
  OVERRIDE(C_EncryptFinal);
  OVERRIDE(C_DecryptInit);
  OVERRIDE(C_Decrypt);
  OVERRIDE(C_DecryptUpdate);
  OVERRIDE(C_DecryptFinal);
  OVERRIDE(C_DigestInit);
  OVERRIDE(C_Digest);
  OVERRIDE(C_DigestUpdate);
  OVERRIDE(C_DigestKey);
  OVERRIDE(C_DigestFinal);
  OVERRIDE(C_SignInit);
  OVERRIDE(C_Sign);
  OVERRIDE(C_SignUpdate);
  OVERRIDE(C_SignFinal);
  OVERRIDE(C_SignRecoverInit);
  OVERRIDE(C_SignRecover);
  OVERRIDE(C_VerifyInit);
  OVERRIDE(C_Verify);
  OVERRIDE(C_VerifyUpdate);
  OVERRIDE(C_VerifyFinal);
  OVERRIDE(C_VerifyRecoverInit);
  OVERRIDE(C_VerifyRecover);
  OVERRIDE(C_DigestEncryptUpdate);
  OVERRIDE(C_DecryptDigestUpdate);
  OVERRIDE(C_SignEncryptUpdate);
  OVERRIDE(C_DecryptVerifyUpdate);
  OVERRIDE(C_GenerateKey);
  OVERRIDE(C_GenerateKeyPair);
  OVERRIDE(C_WrapKey);
  OVERRIDE(C_UnwrapKey);
  OVERRIDE(C_DeriveKey);
  OVERRIDE(C_SeedRandom);
  OVERRIDE(C_GenerateRandom);
  OVERRIDE(C_GetFunctionStatus);
  OVERRIDE(C_CancelFunction);
#undef OVERRIDE
}

/* The module's only export. Loads the real module on first use. */
EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList) {
  if (ppFunctionList == NULL) return CKR_ARGUMENTS_BAD;
  CK_RV rv = ensure_loaded();
  if (rv != CKR_OK) return rv;
  *ppFunctionList = &g_list;
  return CKR_OK;
}
