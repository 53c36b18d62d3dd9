/*
 * dsjobs-supervisor [-g CGROUP_DIR]... RUNDIR PROGRAM [ARGS...]
 *
 * With -g, the child joins each given cgroup (writes itself to CGROUP_DIR/cgroup.procs) before it executes
 * PROGRAM, so every process of the run, however it forks or detaches, is counted, limited and killed with it.
 * The supervisor itself stays outside them: killing the run's cgroup never kills the process that records its end.
 *
 * Starts PROGRAM in a new session (its own process group, so a cancel can signal every process of the run at
 * once), records the group id in RUNDIR/child.pid, waits for it, and records how it ended in RUNDIR/exit.status:
 * "N\n" for an exit code, "signal N\n" for a death by signal. Both files are written to a temporary name and
 * renamed, so a reader sees all or nothing. The supervisor is detached from the server and outlives it: a
 * restarted server learns the outcome from the file.
 *
 * It replaces a POSIX sh script doing the same with `setsid`: one exec instead of three (sh, setsid, the program)
 * on every run's start path, the child's pid is written only once its new process group exists (no window where
 * signalling the group finds nothing), and a death by signal is told apart from an exit code.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_atomic(const char *dir, const char *name, const char *text) {
  char tmp[PATH_MAX], dst[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  snprintf(dst, sizeof dst, "%s/%s", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) { close(fd); return -1; }
  close(fd);
  return rename(tmp, dst);
}

static int join_cgroup(const char *dir) {
  char file[PATH_MAX];
  snprintf(file, sizeof file, "%s/cgroup.procs", dir);
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  /* "0" means the writing process itself. */
  ssize_t n = write(fd, "0\n", 2);
  close(fd);
  return n == 2 ? 0 : -1;
}

int main(int argc, char **argv) {
  const char *cgroups[16];
  int ncg = 0;
  int i = 1;
  while (i + 1 < argc && strcmp(argv[i], "-g") == 0 && ncg < 16) {
    cgroups[ncg++] = argv[i + 1];
    i += 2;
  }
  if (argc - i < 2) {
    fprintf(stderr, "usage: dsjobs-supervisor [-g CGROUP_DIR]... RUNDIR PROGRAM [ARGS...]\n");
    return 2;
  }
  const char *dir = argv[i];
  char **prog = argv + i + 1;
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) { perror("dsjobs-supervisor: pipe"); return 1; }
  pid_t pid = fork();
  if (pid < 0) { perror("dsjobs-supervisor: fork"); return 1; }
  if (pid == 0) {
    close(sync[0]);
    setsid();
    for (int k = 0; k < ncg; k++) {
      if (join_cgroup(cgroups[k]) != 0) {
        int e = errno;
        fprintf(stderr, "dsjobs: cannot join the run's cgroup %s: %s\n", cgroups[k], strerror(e));
        (void)!write(sync[1], &e, sizeof e);
        _exit(126);
      }
    }
    execvp(prog[0], prog);
    int e = errno;
    fprintf(stderr, "dsjobs: cannot execute %s: %s\n", prog[0], strerror(e));
    (void)!write(sync[1], &e, sizeof e);
    _exit(127);
  }
  close(sync[1]);
  /* EOF on the pipe: the child has exec'd (close-on-exec) or failed; either way its session exists now. */
  int e = 0;
  while (read(sync[0], &e, sizeof e) < 0 && errno == EINTR) {}
  close(sync[0]);
  char buf[64];
  snprintf(buf, sizeof buf, "%d\n", (int)pid);
  write_atomic(dir, "child.pid", buf);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) { perror("dsjobs-supervisor: waitpid"); return 1; }
  }
  if (WIFSIGNALED(status)) snprintf(buf, sizeof buf, "signal %d\n", WTERMSIG(status));
  else snprintf(buf, sizeof buf, "%d\n", WEXITSTATUS(status));
  write_atomic(dir, "exit.status", buf);
  return 0;
}
