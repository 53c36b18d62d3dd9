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
 * Warm sandboxes (-W, -w): the same, set up before the run exists. The supervisor starts the program (bwrap running
 * an inner supervisor in -w mode) with no run yet, and waits on fd WARM_CTL_FD for one: the run's directory, working
 * directory, arguments, environment and log files (as fds). It passes the request on to the inner supervisor, which
 * starts the run's program inside the sandbox that is already there; from then on it is an ordinary run. EOF on
 * WARM_CTL_FD before a request (the spawner gave it up, or died with the server) kills the sandbox unused.
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
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

extern char **environ;

/* sandbox.c: `-B`, bwrap's command line (the subset sandbox.ts writes) set up in this process. */
int sandbox_main(int argc, char **argv);
/* seccomp.c: the run's system call filter; -1 with errno ENOSYS where this architecture has no list. */
int install_run_seccomp(void);

/* Bytes kept for a file written later (exit.status: "signal 64\n" at most). */
#define RESERVED_BYTES 64

/*
 * Writes `text` to DIR/NAME all at once: into DIR/.NAME.tmp, renamed into place. A temporary file reserved earlier
 * (reserve_file) is rewritten in place and shrunk, which takes no new block: so a status still reaches the disk
 * when the data disk filled up while the run ran (a run's own output or volume can fill it), instead of the run's
 * outcome becoming unknown.
 */
static int write_atomic(const char *dir, const char *name, const char *text) {
  char tmp[PATH_MAX], dst[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  snprintf(dst, sizeof dst, "%s/%s", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  size_t len = strlen(text);
  if (pwrite(fd, text, len, 0) != (ssize_t)len || ftruncate(fd, (off_t)len) != 0) { close(fd); return -1; }
  close(fd);
  return rename(tmp, dst);
}

/* Takes the space write_atomic(dir, name, ...) will need while there is some (best effort: without it, that write
   needs a block then). */
static void reserve_file(const char *dir, const char *name) {
  char tmp[PATH_MAX];
  static const char pad[RESERVED_BYTES] = {0};
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write(fd, pad, sizeof pad) != (ssize_t)sizeof pad) unlink(tmp);
  close(fd);
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

/* How many times a sandbox that failed to come up is tried (see supervise). */
#define RETRIES 3

/* The fd on which a warm supervisor gets its run (from the spawner), and a warm inner supervisor (from it). */
#define WARM_CTL_FD 61
#define INNER_CTL_FD 62
/* A run request: run dir, cwd, argc, argv, envc, env (NUL-terminated fields). OCI caps env and arguments far below. */
#define MAX_REQUEST (1 << 20)

/* A message header over one buffer and a control buffer (room for the fds), as both ends of a request use it. */
static void msg_over(struct msghdr *msg, struct iovec *iov, void *control, size_t controllen) {
  memset(msg, 0, sizeof *msg);
  msg->msg_iov = iov;
  msg->msg_iovlen = 1;
  msg->msg_control = control;
  msg->msg_controllen = controllen;
}

/* One SOCK_SEQPACKET message and up to two fds (the run's stdout and stderr). 0: EOF; -1: error. */
static ssize_t recv_request(int sock, char *buf, size_t cap, int fds[2]) {
  struct iovec iov = {buf, cap};
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(2 * sizeof(int))];
  } c;
  struct msghdr msg;
  msg_over(&msg, &iov, c.b, sizeof c.b);
  fds[0] = fds[1] = -1;
  ssize_t n;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {}
  if (n < 0) return -1;
  for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t j = 0; j < k && j < 2; j++) memcpy(&fds[j], CMSG_DATA(h) + j * sizeof(int), sizeof(int));
  }
  if (n > 0 && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    errno = EMSGSIZE;
    return -1;
  }
  return n;
}

static int send_request(int sock, const char *buf, size_t len, const int fds[2]) {
  struct iovec iov = {(void *)buf, len};
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(2 * sizeof(int))];
  } c;
  memset(&c, 0, sizeof c);
  struct msghdr msg;
  msg_over(&msg, &iov, c.b, sizeof c.b);
  struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(2 * sizeof(int));
  memcpy(CMSG_DATA(h), fds, 2 * sizeof(int));
  ssize_t n;
  while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
  return n == (ssize_t)len ? 0 : -1;
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

/* A run request's fields: f[0] run dir, f[1] cwd, f[2] argc, argv, envc, env. Builds argv and envp in place (as
   start_run does); returns 0, or -1 if malformed. f must have room for one more entry than nf. */
static int request_argv(char **f, int nf, char ***argv, char ***envp) {
  if (nf < 4) return -1;
  int argc = atoi(f[2]);
  if (argc < 1 || 3 + argc >= nf) return -1;
  int envc = atoi(f[3 + argc]);
  if (envc < 0 || 4 + argc + envc != nf) return -1;
  *argv = f + 3;
  (*argv)[argc] = NULL; /* the envc field, already read */
  *envp = f + 4 + argc;
  (*envp)[envc] = NULL;
  return 0;
}

/* The fd on which a sandboxed run's inner supervisor reports how the program ended. */
#define REPORT_FD 63

/*
 * The run user (`-u UID:GID:NOFILE`, the inner supervisor's option): who the run's program runs as and how many files
 * each of its processes may open. uid -1: unchanged (the server is not root; bwrap's user namespace maps the run to
 * the server's own user).
 */
struct run_user {
  long uid, gid, nofile;
};
static struct run_user run_user = {-1, -1, 0};

static int parse_run_user(const char *spec) {
  char *end;
  run_user.uid = strtol(spec, &end, 10);
  if (*end != ':') return -1;
  run_user.gid = strtol(end + 1, &end, 10);
  if (*end != ':') return -1;
  run_user.nofile = strtol(end + 1, &end, 10);
  return *end == 0 && run_user.uid >= -1 && run_user.gid >= -1 && run_user.nofile >= 0 ? 0 : -1;
}

/*
 * In the run's first process, before it executes the run's program: the open-files limit, then the run user (no
 * supplementary groups; from uid 0 to a non-zero uid the kernel clears every capability left); the seccomp filter is
 * already on (enter_seccomp). Each step is checked: a run never starts as root by mistake. The supervisor (this
 * process's parent) stays uid 0 and undumpable: the run can neither ptrace nor signal it.
 */
static int become_run_user(void) {
  if (run_user.nofile > 0) {
    struct rlimit rl = {(rlim_t)run_user.nofile, (rlim_t)run_user.nofile};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return perror("dsjobs: cannot set the run's open files limit"), -1;
  }
  if (run_user.uid >= 0) {
    /* The bounding set, where this process may (bwrap keeps it; the native sandbox emptied it already). */
    for (int cap = 0; cap <= 63; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    if (setgroups(0, NULL) != 0 || setresgid((gid_t)run_user.gid, (gid_t)run_user.gid, (gid_t)run_user.gid) != 0 ||
        setresuid((uid_t)run_user.uid, (uid_t)run_user.uid, (uid_t)run_user.uid) != 0) {
      return perror("dsjobs: cannot become the run user"), -1;
    }
    if (getuid() != (uid_t)run_user.uid || geteuid() != (uid_t)run_user.uid || getegid() != (gid_t)run_user.gid) {
      fprintf(stderr, "dsjobs: cannot become the run user\n");
      return -1;
    }
    /* The inheritable set bwrap leaves (only lowered: allowed without capabilities). */
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[2];
    memset(none, 0, sizeof none);
    if (syscall(SYS_capset, &hdr, none) != 0) return perror("dsjobs: cannot clear the run's capabilities"), -1;
  }
  return 0;
}

/*
 * The seccomp filter, in the inner supervisor itself (it needs none of what the filter refuses), so that the run's
 * processes inherit it: installing one costs the kernel ~0.1 ms (it compiles the program), which a warm sandbox pays
 * ahead of its run rather than on the run's start. Once per process.
 */
static int seccomp_on;
static int enter_seccomp(void) {
  if (seccomp_on) return 0;
  if (install_run_seccomp() != 0 && errno != ENOSYS) return perror("dsjobs: cannot install the run's seccomp filter"), -1;
  seccomp_on = 1;
  return 0;
}

/*
 * dsjobs-supervisor -r FD [-u UID:GID:NOFILE] PROGRAM [ARGS...]: the inner half, inside the sandbox (with -u, the
 * program runs as that user, with that open-files limit and the seccomp filter: become_run_user). bubblewrap
 * reports a death by signal N as exit code 128+N, so the program's own status is written to FD ("N\n" or "signal N\n") for the
 * outer supervisor, and this process exits the way bwrap would. It ignores SIGTERM and friends itself: a cancel
 * signals the program, and this process must outlive it to report.
 */
static int inner(int fd, char **prog) {
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (enter_seccomp() != 0) return 126;
  /* Not dumpable: no ptrace attach, no /proc/1/mem, even for a process of the same user (bwrap's case without root). */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* The sandbox is up: whatever happens now is the run's (see RETRIES). */
  (void)!write(fd, "+", 1);
  pid_t pid = fork();
  if (pid < 0) { perror("dsjobs-supervisor: fork"); return 1; }
  if (pid == 0) {
    if (become_run_user() != 0) _exit(126);
    execvp(prog[0], prog);
    fprintf(stderr, "dsjobs: cannot execute %s: %s\n", prog[0], strerror(errno));
    _exit(127);
  }
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  /* Every child, not only the program: in the native sandbox this process is pid 1, and the run's orphans (a
     daemon's parent that exited) are reaped here, or they would stay zombies and count against the pids limit. */
  int status;
  for (;;) {
    pid_t got = waitpid(-1, &status, 0);
    if (got == pid) break;
    if (got < 0 && errno != EINTR) { perror("dsjobs-supervisor: waitpid"); return 1; }
  }
  char buf[64];
  if (WIFSIGNALED(status)) snprintf(buf, sizeof buf, "signal %d\n", WTERMSIG(status));
  else snprintf(buf, sizeof buf, "%d\n", WEXITSTATUS(status));
  (void)!write(fd, buf, strlen(buf));
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/*
 * dsjobs-supervisor -w: a warm sandbox's inner half, started by bwrap before there is a run. Waits on INNER_CTL_FD
 * for the run (from the outer supervisor), takes its log files as stdout and stderr, its working directory and
 * environment, and is then the inner half above. EOF first: the sandbox was given up unused.
 */
enum { MAX_FIELDS = 65536 };

static int inner_warm(void) {
  if (enter_seccomp() != 0) return 126;
  static char req[MAX_REQUEST];
  static char *f[MAX_FIELDS + 1];
  int fds[2];
  ssize_t n = recv_request(INNER_CTL_FD, req, sizeof req, fds);
  if (n <= 0) return 0;
  close(INNER_CTL_FD);
  int nf = split_fields(req, (size_t)n, f, MAX_FIELDS);
  char **prog, **envp;
  if (fds[0] >= 0) dup2(fds[0], 1);
  if (fds[1] >= 0) dup2(fds[1], 2);
  if (fds[0] > 2) close(fds[0]);
  if (fds[1] > 2) close(fds[1]);
  if (nf < 0 || request_argv(f, nf, &prog, &envp) != 0) {
    fprintf(stderr, "dsjobs: malformed run request\n");
    (void)!write(REPORT_FD, "+126\n", 5);
    return 126;
  }
  if (chdir(f[1]) != 0) {
    fprintf(stderr, "dsjobs: cannot enter the run's working directory %s: %s\n", f[1], strerror(errno));
    (void)!write(REPORT_FD, "+126\n", 5);
    return 126;
  }
  environ = envp;
  return inner(REPORT_FD, prog);
}

/*
 * A warm supervisor's wait for its run: the request on WARM_CTL_FD (returns its length; the run dir is its first
 * field; `fds` get the run's log files, which also become this process's stdout and stderr), or EOF (the spawner gave
 * the sandbox up) or the sandbox's own end (returns 0: nothing to record).
 */
static ssize_t await_run(pid_t child, char *req, size_t cap, int fds[2]) {
  int pfd = (int)syscall(SYS_pidfd_open, child, 0);
  ssize_t n = 0;
  for (;;) {
    struct pollfd p[2] = {{WARM_CTL_FD, POLLIN, 0}, {pfd, POLLIN, 0}};
    if (poll(p, pfd >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents) {
      n = recv_request(WARM_CTL_FD, req, cap, fds);
      break;
    }
    if (pfd >= 0 && p[1].revents) break;
  }
  if (pfd >= 0) close(pfd);
  close(WARM_CTL_FD);
  if (n <= 0 || req[n - 1] != 0 || fds[0] < 0 || fds[1] < 0) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    fds[0] = fds[1] = -1;
    return 0;
  }
  dup2(fds[0], 1);
  dup2(fds[1], 2);
  return n;
}

static int supervise(int argc, char **argv) {
  const char *cgroups[16];
  int ncg = 0;
  int i = 1;
  int report = 0;
  int warm = 0;
  int native = 0;
  for (;;) {
    if (i + 1 < argc && strcmp(argv[i], "-g") == 0 && ncg < 16) {
      cgroups[ncg++] = argv[i + 1];
      i += 2;
    } else if (i < argc && strcmp(argv[i], "-R") == 0) {
      report = 1;
      i += 1;
    } else if (i < argc && strcmp(argv[i], "-W") == 0) {
      warm = 1;
      i += 1;
    } else if (i < argc && strcmp(argv[i], "-N") == 0) {
      native = 1;
      i += 1;
    } else {
      break;
    }
  }
  if (argc - i < (warm ? 1 : 2) || (native && argc - i < (warm ? 2 : 3))) {
    fprintf(stderr, "usage: dsjobs-supervisor [-g CGROUP_DIR]... [-R] [-N] RUNDIR PROGRAM [ARGS...]\n"
                    "       dsjobs-supervisor [-g CGROUP_DIR]... -R [-N] -W PROGRAM [ARGS...]   (run request on fd 61)\n"
                    "       dsjobs-supervisor -B [BWRAP OPTIONS...] -- PROGRAM [ARGS...]   (the native sandbox)\n"
                    "       dsjobs-supervisor -r FD [-u UID:GID:NOFILE] PROGRAM [ARGS...]\n"
                    "       dsjobs-supervisor -w [-u UID:GID:NOFILE]   (inside a warm sandbox: run request on fd 62, report on fd 63)\n");
    return 2;
  }
  const char *dir = warm ? NULL : argv[i];
  char **prog = argv + i + (warm ? 0 : 1);
  int nprog = argc - i - (warm ? 0 : 1);
  /* -R: the program (bwrap) runs an inner supervisor that reports the real status on fd REPORT_FD. */
  int rep[2] = {-1, -1};
  if (report && pipe2(rep, O_CLOEXEC) != 0) { perror("dsjobs-supervisor: pipe"); return 1; }
  if (warm) fcntl(WARM_CTL_FD, F_SETFD, FD_CLOEXEC);
  static char req[MAX_REQUEST];
  ssize_t req_len = 0;
  int req_fds[2] = {-1, -1};
  char buf[64];
  pid_t pid = -1;
  int status = 0;
  for (int attempt = 1;; attempt++) {
    /* The warm sandbox was gone before it got the run: the run never started, a new sandbox is always safe. */
    int lost = 0;
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) != 0) { perror("dsjobs-supervisor: pipe"); return 1; }
    /* -W: the run comes later, on WARM_CTL_FD (from the spawner), and goes on to the inner one on INNER_CTL_FD. */
    int ic[2] = {-1, -1};
    if (warm && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ic) != 0) { perror("dsjobs-supervisor: socketpair"); return 1; }
    pid = fork();
    if (pid < 0) { perror("dsjobs-supervisor: fork"); return 1; }
    if (pid == 0) {
      close(sync[0]);
      setsid();
      if (report) {
        close(rep[0]);
        /* dup2 clears close-on-exec: the fd passes through bwrap to the inner supervisor. */
        if (dup2(rep[1], REPORT_FD) < 0) _exit(126);
      }
      if (warm) {
        close(ic[0]);
        if (dup2(ic[1], INNER_CTL_FD) < 0) _exit(126);
      }
      for (int k = 0; k < ncg; k++) {
        if (join_cgroup(cgroups[k]) != 0) {
          int e = errno;
          fprintf(stderr, "dsjobs: cannot join the run's cgroup %s: %s\n", cgroups[k], strerror(e));
          (void)!write(sync[1], &e, sizeof e);
          _exit(126);
        }
      }
      /* -N: PROGRAM is `dsjobs-supervisor -B ...`; the sandbox is set up here, without executing it. */
      if (native) {
        close(sync[1]);
        _exit(sandbox_main(nprog - 2, prog + 2));
      }
      execvp(prog[0], prog);
      int e = errno;
      fprintf(stderr, "dsjobs: cannot execute %s: %s\n", prog[0], strerror(e));
      (void)!write(sync[1], &e, sizeof e);
      _exit(127);
    }
    close(sync[1]);
    if (warm) close(ic[1]);
    /* EOF on the pipe: the child has exec'd (close-on-exec) or failed; either way its session exists now. */
    int e = 0;
    while (read(sync[0], &e, sizeof e) < 0 && errno == EINTR) {}
    close(sync[0]);
    if (warm && attempt == 1) {
      req_len = await_run(pid, req, sizeof req, req_fds);
      if (req_len == 0) {
        /* Given up unused, or the sandbox died first: no run, nothing to record. */
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        return 0;
      }
      dir = req;
    }
    if (warm) {
      if (send_request(ic[0], req, (size_t)req_len, req_fds) != 0) {
        int e = errno;
        fprintf(stderr, "dsjobs: the run's sandbox ended before the run could start in it: %s\n", strerror(e));
        /* EPIPE: the inner supervisor is gone (its sandbox failed, or could not join its cgroups) and the sandbox is
           ending on its own; the run never started there, so it gets a sandbox made for it below. Anything else:
           end it. */
        if (e != EPIPE && e != ECONNRESET) kill(-pid, SIGKILL);
        else lost = 1;
      }
      close(ic[0]);
    }
    snprintf(buf, sizeof buf, "%d\n", (int)pid);
    write_atomic(dir, "child.pid", buf);
    reserve_file(dir, "exit.status");
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) { perror("dsjobs-supervisor: waitpid"); return 1; }
    }
    if (WIFSIGNALED(status)) snprintf(buf, sizeof buf, "signal %d\n", WTERMSIG(status));
    else snprintf(buf, sizeof buf, "%d\n", WEXITSTATUS(status));
    if (!report) break;
    /* The inner supervisor's word: "+" once the sandbox was up, then how the program ended. Written before the
       inner supervisor exited, so before bwrap did: never wait for it. */
    char inner_buf[64];
    ssize_t n;
    fcntl(rep[0], F_SETFL, O_NONBLOCK);
    while ((n = read(rep[0], inner_buf, sizeof inner_buf - 1)) < 0 && errno == EINTR) {}
    if (n > 0 && inner_buf[0] == '+') {
      ssize_t k = 0;
      while (k < n && inner_buf[k] == '+') k++;
      if (n > k && inner_buf[n - 1] == '\n') {
        inner_buf[n] = 0;
        memcpy(buf, inner_buf + k, (size_t)(n - k) + 1);
      }
      break;
    }
    /* bwrap failed before the sandbox was up (it exits 1 then). Its recursive read-only bind of the host's tree
       fails when a mount point goes away on the host while it works (another run's volume being removed): that is
       worth another try; a kill (a cancel) or anything else is not. */
    if (!(lost || (WIFEXITED(status) && WEXITSTATUS(status) == 1)) || attempt == RETRIES) break;
    fprintf(stderr, "dsjobs: the run's sandbox could not be set up (attempt %d of %d); trying again\n", attempt, RETRIES);
    /* Such changes come in bursts (a server removing volumes): let this one pass. */
    struct timespec pause = {0, 20 * 1000 * 1000L * attempt};
    while (nanosleep(&pause, &pause) < 0 && errno == EINTR) {}
  }
  if (report) close(rep[0]), close(rep[1]);
  if (req_fds[0] >= 0) close(req_fds[0]);
  if (req_fds[1] >= 0) close(req_fds[1]);
  write_atomic(dir, "exit.status", buf);
  return 0;
}

/*
 * dsjobs-supervisor -S: the spawner. The server starts one at start-up and sends it, on stdin, frames: a 4-byte
 * little-endian length, then NUL-terminated fields, the first of which says what to do:
 *   R (start a run's supervisor): id, cwd, stdout file, stderr file, handle file, handle JSON without its closing
 *     brace, argc, the supervisor's arguments (as after "dsjobs-supervisor"), envc, the environment ("K=V").
 *   W (start a warm supervisor, -W): the same fields (the handle file empty); its WARM_CTL_FD is a socket to this
 *     process, kept until the warm supervisor is used or given up.
 *   U (start a run in a warm sandbox): id, the warm supervisor's pid, stdout file, stderr file, handle file, handle
 *     JSON as for R, then the request passed on to it as it is: run dir, cwd, argc, argv, envc, env.
 *   K (give a warm sandbox up): its supervisor's pid. No reply; its exit is reported as "X pid".
 * For R and W it opens the log files, forks, and the child becomes the supervisor directly (no exec: a fork of
 * this small process costs ~0.1 ms, against 1-2 ms for a fork + exec from a Node process), in a session of its
 * own, so it outlives the server and this process. The handle file gets the handle with the supervisor's pid and
 * start time before the server hears of it (a server killed in between finds the run there after a restart).
 * Replies on stdout, one line each: "S id pid starttime" (started), "F id message" (failed), "X pid" (a supervisor
 * this process started has exited: the run's exit status is in its run dir). EOF on stdin (the server is gone):
 * this process exits; the supervisors live on (the warm ones see EOF too and give their sandboxes up).
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

/* Warm supervisors this spawner started and has not handed a run or given up yet: pid -> WARM_CTL_FD's other end. */
#define MAX_WARM 256
static struct {
  pid_t pid;
  int fd;
} warm_list[MAX_WARM];
static int n_warm;

static int warm_take(pid_t pid) {
  for (int k = 0; k < n_warm; k++) {
    if (warm_list[k].pid != pid) continue;
    int fd = warm_list[k].fd;
    warm_list[k] = warm_list[--n_warm];
    return fd;
  }
  return -1;
}

/* Opens a run's stdout and stderr files for appending: 0, or -1 with both closed (errno says why). */
static int open_logs(const char *out_file, const char *err_file, int fds[2]) {
  fds[0] = open(out_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  fds[1] = fds[0] < 0 ? -1 : open(err_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fds[1] >= 0) return 0;
  int e = errno;
  if (fds[0] >= 0) close(fds[0]);
  errno = e;
  return -1;
}

/* A supervisor runs: the handle file (if any) gets the handle with its pid and start time, then "S id pid start". */
static void reply_started(const char *id, pid_t pid, const char *handle_file, const char *handle_json) {
  char line[128];
  unsigned long long st = start_time_of(pid);
  char tail[96];
  int tl = snprintf(tail, sizeof tail, ",\"pid\":%d,\"startTime\":%llu}", (int)pid, st);
  int hf = *handle_file ? open(handle_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
  if (hf >= 0) {
    /* Best effort, as before: the server stores the handle itself a moment later. */
    (void)!write_all(hf, handle_json, strlen(handle_json));
    (void)!write_all(hf, tail, (size_t)tl);
    close(hf);
  }
  snprintf(line, sizeof line, "S %.60s %d %llu\n", id, (int)pid, st);
  reply(line);
}

/* R (a run) and W (a warm supervisor): f[0] id, cwd, stdout, stderr, handle file, handle JSON, argc, args, envc, env. */
static void start_run(char **f, int nf, int sfd, int warm) {
  char line[PATH_MAX + 128];
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

  if (warm && n_warm == MAX_WARM) { snprintf(line, sizeof line, "F %s too many warm sandboxes\n", id); reply(line); return; }
  int ctl[2] = {-1, -1};
  if (warm && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0) {
    snprintf(line, sizeof line, "F %s socketpair: %s\n", id, strerror(errno));
    reply(line);
    return;
  }
  int logs[2];
  if (open_logs(out_file, err_file, logs) != 0) {
    snprintf(line, sizeof line, "F %s cannot open the run's log file: %s\n", id, strerror(errno));
    if (warm) close(ctl[0]), close(ctl[1]);
    reply(line);
    return;
  }
  int out = logs[0], err = logs[1];
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(line, sizeof line, "F %s fork: %s\n", id, strerror(errno));
    close(out);
    close(err);
    if (warm) close(ctl[0]), close(ctl[1]);
    reply(line);
    return;
  }
  if (pid == 0) {
    close(sfd);
    /* Not the other warm supervisors' channels: each must see EOF when the spawner alone closes its end. */
    for (int k = 0; k < n_warm; k++) close(warm_list[k].fd);
    if (warm) {
      close(ctl[0]);
      if (dup2(ctl[1], WARM_CTL_FD) < 0) _exit(126);
      close(ctl[1]);
    }
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
  if (warm) {
    close(ctl[1]);
    warm_list[n_warm].pid = pid;
    warm_list[n_warm].fd = ctl[0];
    n_warm++;
  }
  reply_started(id, pid, handle_file, handle_json);
}

/*
 * U (a run in a warm sandbox): f[0] id, the warm supervisor's pid, stdout, stderr, handle file, handle JSON, then
 * the request it gets (run dir, cwd, argc, argv, envc, env), sent as it came, `req` bytes long.
 */
static void use_warm(char **f, int nf, const char *req, size_t req_len) {
  char line[PATH_MAX + 128];
  if (nf < 10) {
    snprintf(line, sizeof line, "F %s malformed request\n", nf >= 1 ? f[0] : "0");
    reply(line);
    return;
  }
  const char *id = f[0], *out_file = f[2], *err_file = f[3], *handle_file = f[4], *handle_json = f[5];
  pid_t pid = (pid_t)atoi(f[1]);
  int ctl = warm_take(pid);
  if (ctl < 0) { snprintf(line, sizeof line, "F %s no such warm sandbox\n", id); reply(line); return; }
  int fds[2];
  if (open_logs(out_file, err_file, fds) != 0) {
    snprintf(line, sizeof line, "F %s cannot open the run's log file: %s\n", id, strerror(errno));
    close(ctl);
    reply(line);
    return;
  }
  int sent = send_request(ctl, req, req_len, fds);
  int e = errno;
  close(fds[0]);
  close(fds[1]);
  /* Either way this channel is done: the supervisor has its run, or (EOF) gives its sandbox up. */
  close(ctl);
  if (sent != 0) {
    snprintf(line, sizeof line, "F %s the warm sandbox is gone: %s\n", id, strerror(e));
    reply(line);
    return;
  }
  reply_started(id, pid, handle_file, handle_json);
}

/* One frame: its kind ("R", "W", "U" or "K"), then the kind's fields. */
static void handle_frame(char *frame, size_t len, int sfd) {
  static char *f[MAX_FIELDS + 1];
  int nf = split_fields(frame, len, f, MAX_FIELDS);
  if (nf < 2 || f[0][1] != 0) {
    char line[PATH_MAX + 64];
    snprintf(line, sizeof line, "F %s malformed request\n", nf >= 2 ? f[1] : "0");
    reply(line);
    return;
  }
  switch (f[0][0]) {
    case 'R': start_run(f + 1, nf - 1, sfd, 0); break;
    case 'W': start_run(f + 1, nf - 1, sfd, 1); break;
    case 'U':
      if (nf < 8) use_warm(f + 1, nf - 1, NULL, 0);
      else use_warm(f + 1, nf - 1, f[7], (size_t)(frame + len - f[7]));
      break;
    case 'K': {
      /* Give a warm sandbox up: EOF makes its supervisor kill it and exit (reported as any exit, "X pid"). */
      int fd = warm_take((pid_t)atoi(f[1]));
      if (fd >= 0) close(fd);
      break;
    }
    default: {
      char line[PATH_MAX + 64];
      snprintf(line, sizeof line, "F %s unknown request kind\n", f[1]);
      reply(line);
    }
  }
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
        /* A warm supervisor that ended before it got a run (its sandbox failed): its channel goes too. */
        int fd = warm_take(pid);
        if (fd >= 0) close(fd);
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
        handle_frame(buf + off + 4, len, sfd);
        off += 4 + (size_t)len;
      }
      memmove(buf, buf + off, have - off);
      have -= off;
    }
  }
}

/*
 * The inner modes, for the native sandbox to run in its own process instead of executing this program (see
 * sandbox_child); -1, with nothing done: argv is neither. The fds an exec would have closed (close-on-exec ones: the
 * outer supervisor's pipe and socket ends) are closed first: all but stdin, stdout, stderr and the inner's own.
 */
/* `-u SPEC` at argv[k]: parsed (exit 2 if malformed); the index after it, or k where there is none. */
static int run_user_option(int argc, char **argv, int k) {
  if (k + 1 >= argc || strcmp(argv[k], "-u") != 0) return k;
  if (parse_run_user(argv[k + 1]) != 0) {
    fprintf(stderr, "dsjobs-supervisor: -u takes UID:GID:NOFILE, not %s\n", argv[k + 1]);
    exit(2);
  }
  return k + 2;
}

int supervisor_inner_main(char **argv) {
  int argc = 0;
  while (argv[argc]) argc++;
  int report = argc >= 4 && strcmp(argv[1], "-r") == 0 ? atoi(argv[2]) : -1;
  int warm = (argc == 2 || argc == 4) && strcmp(argv[1], "-w") == 0;
  if (report < 3 && !warm) return -1;
  int prog = run_user_option(argc, argv, warm ? 2 : 3);
  if (!warm && prog >= argc) return -1;
  /* Kept: [lo, hi] (INNER_CTL_FD and REPORT_FD are adjacent). */
  int lo = warm ? INNER_CTL_FD : report, hi = warm ? REPORT_FD : report;
  if ((lo > 3 && syscall(SYS_close_range, 3, lo - 1, 0) != 0) || syscall(SYS_close_range, hi + 1, ~0U, 0) != 0) {
    for (int fd = 3; fd < 1024; fd++) {
      if (fd < lo || fd > hi) close(fd);
    }
  }
  return warm ? inner_warm() : inner(report, argv + prog);
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "-r") == 0) {
    int prog = run_user_option(argc, argv, 3);
    if (prog < argc) return inner(atoi(argv[2]), argv + prog);
  }
  if (argc == 2 && strcmp(argv[1], "-S") == 0) return spawner();
  if ((argc == 2 || argc == 4) && strcmp(argv[1], "-w") == 0) return run_user_option(argc, argv, 2), inner_warm();
  if (argc >= 2 && strcmp(argv[1], "-B") == 0) return sandbox_main(argc - 2, argv + 2);
  return supervise(argc, argv);
}
