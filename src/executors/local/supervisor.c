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
#include <poll.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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

static int supervise(int argc, char **argv) {
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

/*
 * dsjobs-supervisor -S: the spawner. The server starts one at start-up and sends it, on stdin, one frame per run to
 * start: a 4-byte little-endian length, then NUL-terminated fields:
 *   id, cwd, stdout file, stderr file, handle file, handle JSON without its closing brace,
 *   argc, the supervisor's arguments (as after "dsjobs-supervisor"), envc, the environment ("K=V").
 * For each it opens the log files, forks, and the child becomes that run's supervisor directly (no exec: a fork of
 * this small process costs ~0.1 ms, against 1-2 ms for a fork + exec from a Node process), in a session of its
 * own, so it outlives the server and this process. The handle file gets the handle with the supervisor's pid and
 * start time before the server hears of it (a server killed in between finds the run there after a restart).
 * Replies on stdout, one line each: "S id pid starttime" (started), "F id message" (failed), "X pid" (a supervisor
 * this process started has exited: the run's exit status is in its run dir). EOF on stdin (the server is gone):
 * this process exits; the supervisors live on.
 */
static void reply(const char *line) {
  size_t len = strlen(line), off = 0;
  while (off < len) {
    ssize_t n = write(1, line + off, len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(0); /* the server is gone */
    }
    off += (size_t)n;
  }
}

static unsigned long long start_time_of(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  /* Field 22 (starttime). The command name (field 2) may hold spaces and parentheses: count from its last ')',
     which is followed by the space before field 3. */
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p++;
  for (int field = 3; field < 22 && p; field++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

static int write_all(int fd, const char *s, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, s, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    s += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Splits a frame into its fields; returns the count, or -1 if a field is not NUL-terminated. */
static int split_fields(char *frame, size_t len, char **fields, int max) {
  int n = 0;
  size_t i = 0;
  while (i < len) {
    if (n == max) return -1;
    fields[n++] = frame + i;
    char *end = memchr(frame + i, 0, len - i);
    if (!end) return -1;
    i = (size_t)(end - frame) + 1;
  }
  return n;
}

static void start_run(char *frame, size_t len, int sfd) {
  enum { MAX_FIELDS = 65536 };
  static char *f[MAX_FIELDS + 1];
  char line[PATH_MAX + 128];
  int nf = split_fields(frame, len, f, MAX_FIELDS);
  if (nf < 8) {
    /* Still answer the request by its id when there is one: the server waits for every id it sent. */
    snprintf(line, sizeof line, "F %s malformed request\n", nf >= 1 ? f[0] : "0");
    reply(line);
    return;
  }
  const char *id = f[0], *cwd = f[1], *out_file = f[2], *err_file = f[3], *handle_file = f[4], *handle_json = f[5];
  int argc = atoi(f[6]);
  if (argc < 1 || 7 + argc >= nf) { snprintf(line, sizeof line, "F %s malformed request\n", id); reply(line); return; }
  int envc = atoi(f[7 + argc]);
  if (envc < 0 || 8 + argc + envc != nf) { snprintf(line, sizeof line, "F %s malformed request\n", id); reply(line); return; }
  /* argv and envp in place, in the field array: the argc field (already read) becomes argv[0], the envc field (read
     too) argv's terminator, and the slot after the last field (f has one more than it can fill) envp's. */
  char **args = f + 6;
  args[0] = "dsjobs-supervisor";
  args[argc + 1] = NULL;
  char **env = f + 8 + argc;
  env[envc] = NULL;

  int out = open(out_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = out < 0 ? -1 : open(err_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) {
    snprintf(line, sizeof line, "F %s cannot open the run's log file: %s\n", id, strerror(errno));
    if (out >= 0) close(out);
    reply(line);
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(line, sizeof line, "F %s fork: %s\n", id, strerror(errno));
    close(out);
    close(err);
    reply(line);
    return;
  }
  if (pid == 0) {
    close(sfd);
    sigset_t mask;
    sigemptyset(&mask);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    signal(SIGPIPE, SIG_DFL);
    setsid();
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
    if (devnull > 2) close(devnull);
    close(out);
    close(err);
    if (chdir(cwd) != 0) {
      fprintf(stderr, "dsjobs: cannot enter the run's working directory %s: %s\n", cwd, strerror(errno));
      _exit(126);
    }
    environ = env;
    _exit(supervise(argc + 1, args));
  }
  close(out);
  close(err);
  unsigned long long st = start_time_of(pid);
  char tail[96];
  int tl = snprintf(tail, sizeof tail, ",\"pid\":%d,\"startTime\":%llu}", (int)pid, st);
  int hf = open(handle_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (hf >= 0) {
    /* Best effort, as before: the server stores the handle itself a moment later. */
    (void)!write_all(hf, handle_json, strlen(handle_json));
    (void)!write_all(hf, tail, (size_t)tl);
    close(hf);
  }
  snprintf(line, sizeof line, "S %s %d %llu\n", id, (int)pid, st);
  reply(line);
}

static int spawner(void) {
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) { perror("dsjobs-supervisor: signalfd"); return 1; }
  size_t cap = 1 << 16, have = 0;
  char *buf = malloc(cap);
  if (!buf) return 1;
  for (;;) {
    struct pollfd p[2] = {{0, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      perror("dsjobs-supervisor: poll");
      return 1;
    }
    if (p[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {}
      int status;
      pid_t pid;
      char line[64];
      while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        snprintf(line, sizeof line, "X %d\n", (int)pid);
        reply(line);
      }
    }
    if (p[0].revents) {
      if (have == cap) {
        cap *= 2;
        char *grown = realloc(buf, cap);
        if (!grown) return 1;
        buf = grown;
      }
      ssize_t n = read(0, buf + have, cap - have);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0; /* the server is gone: the supervisors live on */
      have += (size_t)n;
      size_t off = 0;
      while (have - off >= 4) {
        uint32_t len;
        memcpy(&len, buf + off, 4);
        if (have - off - 4 < len) break;
        start_run(buf + off + 4, len, sfd);
        off += 4 + (size_t)len;
      }
      memmove(buf, buf + off, have - off);
      have -= off;
    }
  }
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "-r") == 0) return inner(atoi(argv[2]), argv + 3);
  if (argc == 2 && strcmp(argv[1], "-S") == 0) return spawner();
  return supervise(argc, argv);
}
