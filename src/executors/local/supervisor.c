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
#include <signal.h>
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

/* The fd on which a sandboxed run's inner supervisor reports how the program ended. */
#define REPORT_FD 63

/*
 * dsjobs-supervisor -r FD PROGRAM [ARGS...]: the inner half, inside the sandbox. bubblewrap reports a death by
 * signal N as exit code 128+N, so the program's own status is written to FD ("N\n" or "signal N\n") for the
 * outer supervisor, and this process exits the way bwrap would. It ignores SIGTERM and friends itself: a cancel
 * signals the program, and this process must outlive it to report.
 */
static int inner(int fd, char **prog) {
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  pid_t pid = fork();
  if (pid < 0) { perror("dsjobs-supervisor: fork"); return 1; }
  if (pid == 0) {
    execvp(prog[0], prog);
    fprintf(stderr, "dsjobs: cannot execute %s: %s\n", prog[0], strerror(errno));
    _exit(127);
  }
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) { perror("dsjobs-supervisor: waitpid"); return 1; }
  }
  char buf[64];
  if (WIFSIGNALED(status)) snprintf(buf, sizeof buf, "signal %d\n", WTERMSIG(status));
  else snprintf(buf, sizeof buf, "%d\n", WEXITSTATUS(status));
  (void)!write(fd, buf, strlen(buf));
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "-r") == 0) return inner(atoi(argv[2]), argv + 3);
  const char *cgroups[16];
  int ncg = 0;
  int i = 1;
  int report = 0;
  for (;;) {
    if (i + 1 < argc && strcmp(argv[i], "-g") == 0 && ncg < 16) {
      cgroups[ncg++] = argv[i + 1];
      i += 2;
    } else if (i < argc && strcmp(argv[i], "-R") == 0) {
      report = 1;
      i += 1;
    } else {
      break;
    }
  }
  if (argc - i < 2) {
    fprintf(stderr, "usage: dsjobs-supervisor [-g CGROUP_DIR]... [-R] RUNDIR PROGRAM [ARGS...]\n"
                    "       dsjobs-supervisor -r FD PROGRAM [ARGS...]\n");
    return 2;
  }
  const char *dir = argv[i];
  char **prog = argv + i + 1;
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) { perror("dsjobs-supervisor: pipe"); return 1; }
  /* -R: the program (bwrap) runs an inner supervisor that reports the real status on fd REPORT_FD. */
  int rep[2] = {-1, -1};
  if (report && pipe2(rep, O_CLOEXEC) != 0) { perror("dsjobs-supervisor: pipe"); return 1; }
  pid_t pid = fork();
  if (pid < 0) { perror("dsjobs-supervisor: fork"); return 1; }
  if (pid == 0) {
    close(sync[0]);
    setsid();
    if (report) {
      close(rep[0]);
      /* dup2 clears close-on-exec: the fd passes through bwrap to the inner supervisor. */
      if (dup2(rep[1], REPORT_FD) < 0) _exit(126);
    }
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
  if (report) close(rep[1]);
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
  if (report) {
    /* The inner supervisor's word, when it got to say it (not when bwrap failed or was killed first). */
    char inner_buf[64];
    ssize_t n;
    /* Written before the inner supervisor exited, so before bwrap did: never wait for it. */
    fcntl(rep[0], F_SETFL, O_NONBLOCK);
    while ((n = read(rep[0], inner_buf, sizeof inner_buf - 1)) < 0 && errno == EINTR) {}
    if (n > 0 && inner_buf[n - 1] == '\n') {
      inner_buf[n] = 0;
      memcpy(buf, inner_buf, (size_t)n + 1);
    }
    close(rep[0]);
  }
  write_atomic(dir, "exit.status", buf);
  return 0;
}
