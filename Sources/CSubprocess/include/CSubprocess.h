#ifndef SEALBATCH_CSUBPROCESS_H
#define SEALBATCH_CSUBPROCESS_H
#include <spawn.h>

/// glibc extensions (_GNU_SOURCE) that Swift's Glibc module does not import.
int sb_pipe_cloexec(int fds[2]);
int sb_spawn_closefrom(posix_spawn_file_actions_t *actions, int from);
int sb_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path);
/// syncfs(2): flushes the file system holding `fd` (one flush for many files).
int sb_syncfs(int fd);
#endif
