#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>
#include "CSubprocess.h"

int sb_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int sb_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
int sb_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int sb_syncfs(int fd) { return syncfs(fd); }

#include <signal.h>
#include <string.h>

static char sb_marker_path[4096];
static struct sigaction sb_previous[65];
static int sb_marker_installed = 0;
static const int sb_fault_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT, SIGSYS };

static void sb_on_fault(int sig, siginfo_t *info, void *ctx) {
    (void)info; (void)ctx;
    int fd = open(sb_marker_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        char buf[32] = "signal ";
        int n = 7, v = sig, digits[4], k = 0;
        do { digits[k++] = v % 10; v /= 10; } while (v > 0 && k < 4);
        while (k > 0) buf[n++] = (char)('0' + digits[--k]);
        buf[n++] = '\n';
        ssize_t w = write(fd, buf, (size_t)n);
        (void)w;
        fsync(fd);
        close(fd);
    }
    // hand the signal to whoever had it before (the Swift runtime's backtracer, or the default action);
    // a fault re-executes the faulting instruction on return, a raised signal is raised again
    if (sig > 0 && sig < 65) sigaction(sig, &sb_previous[sig], NULL);
    raise(sig);
}

int sb_install_crash_marker(const char *path) {
    size_t len = strlen(path);
    if (len + 1 > sizeof(sb_marker_path)) return -1;
    memcpy(sb_marker_path, path, len + 1);
    if (sb_marker_installed) return 0;
    sb_marker_installed = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = sb_on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sb_fault_signals) / sizeof(sb_fault_signals[0]); i++) {
        sigaction(sb_fault_signals[i], &sa, &sb_previous[sb_fault_signals[i]]);
    }
    return 0;
}
