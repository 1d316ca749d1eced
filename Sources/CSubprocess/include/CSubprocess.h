#ifndef SEALBATCH_CSUBPROCESS_H
#define SEALBATCH_CSUBPROCESS_H
#include <spawn.h>

/// glibc extensions (_GNU_SOURCE) that Swift's Glibc module does not import.
int sb_pipe_cloexec(int fds[2]);
int sb_spawn_closefrom(posix_spawn_file_actions_t *actions, int from);
int sb_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path);
/// syncfs(2): flushes the file system holding `fd` (one flush for many files).
int sb_syncfs(int fd);
/// Installs handlers for the signals of a crash of the process itself (SIGSEGV, SIGBUS, SIGILL, SIGTRAP,
/// SIGFPE, SIGABRT, SIGSYS): each writes `path` ("signal N", async-signal-safe, flushed) and then passes the
/// signal on to the handler that was there before (or the default: the process dies as it would have). A
/// kill -9 cannot be caught and leaves no marker: that is how the engine tells its own crash from an
/// external kill. Calling it again only changes the path. Returns 0, or -1 if the path is too long.
int sb_install_crash_marker(const char *path);
#endif
