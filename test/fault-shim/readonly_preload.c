/*
 * readonly_preload.c: an LD_PRELOAD library for tests that makes one file's filesystem
 * look read-only, and writable again, while a process runs.
 *
 * Linux refuses `mount -o remount,ro` (EBUSY) while a process holds a file of that mount
 * open for writing, and an ext4 turned read-only by an error cannot be made writable again
 * without unmounting it. So a test cannot stage, with a real mount, what a daemon meets
 * when its filesystem turns read-only and back. This library answers for the kernel:
 * while the file named by READONLY_SHIM_CONTROL exists, write(2), writev(2), pwrite(2),
 * pwritev(2) and ftruncate(2) on a descriptor whose path ends in READONLY_SHIM_SUFFIX
 * fail with EROFS, as they would on a read-only filesystem; everything else, and every
 * call once the control file is gone, goes to the C library unchanged. The code above it
 * (Node, libuv, the daemon) runs as it would.
 *
 * Build: cc -shared -fPIC -O2 -o libreadonly.so readonly_preload.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* True while the control file exists and `fd` names a file whose path ends in the suffix. */
static int read_only(int fd) {
  const char *control = getenv("READONLY_SHIM_CONTROL");
  const char *suffix = getenv("READONLY_SHIM_SUFFIX");
  if (control == NULL || suffix == NULL || *suffix == '\0') return 0;
  int saved = errno;
  int on = 0;
  if (access(control, F_OK) == 0) {
    char link[64];
    char path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    size_t len = strlen(suffix);
    if (n >= 0 && (size_t)n >= len) {
      path[n] = '\0';
      on = strcmp(path + (size_t)n - len, suffix) == 0;
    }
  }
  errno = saved;
  return on;
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))
#define REFUSE_IF_READ_ONLY(fd) \
  do {                          \
    if (read_only(fd)) {        \
      errno = EROFS;            \
      return -1;                \
    }                           \
  } while (0)

ssize_t write(int fd, const void *buf, size_t count) {
  REFUSE_IF_READ_ONLY(fd);
  return NEXT(write)(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
  REFUSE_IF_READ_ONLY(fd);
  return NEXT(writev)(fd, iov, iovcnt);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  REFUSE_IF_READ_ONLY(fd);
  return NEXT(pwrite)(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
  REFUSE_IF_READ_ONLY(fd);
  return NEXT(pwrite64)(fd, buf, count, offset);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  REFUSE_IF_READ_ONLY(fd);
  return NEXT(pwritev)(fd, iov, iovcnt, offset);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset) {
  REFUSE_IF_READ_ONLY(fd);
  return NEXT(pwritev64)(fd, iov, iovcnt, offset);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
  REFUSE_IF_READ_ONLY(fd);
  return NEXT(pwritev2)(fd, iov, iovcnt, offset, flags);
}

int ftruncate(int fd, off_t length) {
  REFUSE_IF_READ_ONLY(fd);
  return NEXT(ftruncate)(fd, length);
}

int ftruncate64(int fd, off64_t length) {
  REFUSE_IF_READ_ONLY(fd);
  return NEXT(ftruncate64)(fd, length);
}
