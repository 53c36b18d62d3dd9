/*
 * The native sandbox: the subset of bubblewrap's command line that sandbox.ts writes, set up with the kernel's
 * mount API in this process instead of by executing bwrap. Used by dsjobs-supervisor when the server runs as root
 * (the namespaces need CAP_SYS_ADMIN; bwrap, which can use user namespaces, remains for everything else).
 *
 *   dsjobs-supervisor -B [OPTIONS...] -- PROGRAM [ARGS...]
 *
 * OPTIONS, with bwrap's meaning: --die-with-parent, --unshare-pid, --unshare-ipc, --unshare-uts, --unshare-net,
 * --hostname NAME, --cap-drop ALL, --ro-bind SRC DEST, --bind SRC DEST, --dev-bind SRC DEST, --dev DEST,
 * --proc DEST, --tmpfs DEST, --symlink TARGET DEST, --chdir DIR. Anything else is refused.
 *
 * Why: bwrap re-reads and parses /proc/self/mountinfo after every bind to re-mount what it copied, ~11 times per
 * start here, and that cost grows with the host's mounts (every block storage volume is one). open_tree() copies a
 * tree and mount_setattr() makes all of it read-only in one call each, whatever its size; device nodes are made
 * with mknod() (possible as real root), not bound one by one. A start costs about a third of bwrap's.
 *
 * The layout is bwrap's: a tmpfs becomes the root, the host's tree is reachable at /oldroot while the ops build
 * /newroot (sources are host paths, destinations sandbox paths), then /newroot becomes the root and the host's
 * tree is detached. Mount events on the host reach the copies (slave propagation, as in bwrap), so an unmounted
 * volume is not kept alive by sandboxes that started while it was mounted.
 *
 * Process layout: this process (the monitor) unshares the pid namespace and forks the sandbox's pid 1, which makes
 * the other namespaces, sets the mounts up and executes PROGRAM (the inner supervisor, this program, runs in that
 * process without an exec); the monitor waits for it and exits with its status
 * (128+N for a death by signal N), as bwrap does. With --die-with-parent both die when their parent does. PROGRAM
 * is pid 1: the server's is the inner supervisor, which reaps whatever the run leaves to it (bwrap has an init of
 * its own for that). Exit 1 (bwrap's, too): the sandbox could
 * not be set up; the message names the step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#define DSJ_ATTR_RDONLY 0x00000001
#define DSJ_ATTR_NOSUID 0x00000002
#define DSJ_ATTR_NODEV 0x00000004
#define DSJ_ATTR_NOEXEC 0x00000008

/* struct mount_attr, spelled out: glibc and linux/mount.h disagree on who defines it. */
struct dsj_mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

#define NEWROOT "/newroot"
#define OLDROOT "/oldroot"

static int fail(const char *what, const char *path) {
  fprintf(stderr, "dsjobs sandbox: %s%s%s: %s\n", what, path ? " " : "", path ? path : "", strerror(errno));
  return -1;
}

static int join(char *out, const char *prefix, const char *p) {
  if (snprintf(out, PATH_MAX, "%s%s", prefix, strcmp(p, "/") == 0 ? "" : p) >= PATH_MAX) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

/* mkdir -p (the last component included). */
static int mkdirs(const char *path, mode_t mode) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return errno = ENAMETOOLONG, -1;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, mode) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, mode) != 0 && errno != EEXIST ? -1 : 0;
}

/* A mount point for a directory or a file at `dest` (inside NEWROOT), made where missing. */
static int ensure_mount_point(const char *dest, int dir) {
  struct stat st;
  if (lstat(dest, &st) == 0) return 0;
  if (dir) return mkdirs(dest, 0755);
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", dest);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = 0;
    if (mkdirs(parent, 0755) != 0) return -1;
  }
  int fd = open(dest, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0444);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

/* Copies the tree at `src` (a path as seen now) onto `dest` with `attrs` added to each of its mounts. */
static int attach_copy(const char *src, const char *dest, uint64_t attrs, const char *shown) {
  int fd = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (fd < 0) return fail("Can't copy the mount tree of", shown);
  struct dsj_mount_attr a = {attrs, 0, 0, 0};
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) != 0) {
    close(fd);
    return fail("Can't set the mount flags of", shown);
  }
  if (syscall(SYS_move_mount, fd, "", AT_FDCWD, dest, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    close(fd);
    return fail("Can't mount at", shown);
  }
  close(fd);
  return 0;
}

/* --bind, --ro-bind, --dev-bind: the host's `src`, recursively, at `dest`; nosuid always, nodev unless `dev`. */
static int bind_op(const char *src, const char *dest, int ro, int dev) {
  char s[PATH_MAX], d[PATH_MAX];
  if (join(s, OLDROOT, src) || join(d, NEWROOT, dest)) return fail("Path too long", dest);
  struct stat st;
  if (stat(s, &st) != 0) return fail("Can't find source path", src);
  if (ensure_mount_point(d, S_ISDIR(st.st_mode)) != 0) return fail("Can't create a mount point at", dest);
  return attach_copy(s, d, DSJ_ATTR_NOSUID | (dev ? 0 : DSJ_ATTR_NODEV) | (ro ? DSJ_ATTR_RDONLY : 0), dest);
}

static int tmpfs_at(const char *d, unsigned long flags, const char *shown) {
  if (mkdirs(d, 0755) != 0) return fail("Can't create a mount point at", shown);
  if (mount("tmpfs", d, "tmpfs", flags, "mode=0755") != 0) return fail("Can't mount a tmpfs at", shown);
  return 0;
}

/* --proc: a proc of the sandbox's pid namespace; as bwrap does, the parts that configure the host read-only. */
static int proc_op(const char *dest) {
  char d[PATH_MAX], sub[PATH_MAX + 32]; /* d + a short name: never truncated */
  if (join(d, NEWROOT, dest)) return fail("Path too long", dest);
  if (mkdirs(d, 0755) != 0) return fail("Can't create a mount point at", dest);
  if (mount("proc", d, "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL) != 0) return fail("Can't mount proc at", dest);
  static const char *covered[] = {"sys", "sysrq-trigger", "irq", "bus"};
  for (size_t k = 0; k < sizeof covered / sizeof *covered; k++) {
    snprintf(sub, sizeof sub, "%s/%s", d, covered[k]);
    if (access(sub, F_OK) != 0) continue;
    if (attach_copy(sub, sub, DSJ_ATTR_RDONLY | DSJ_ATTR_NOSUID | DSJ_ATTR_NODEV | DSJ_ATTR_NOEXEC, covered[k]) != 0) return -1;
  }
  return 0;
}

/* --dev: a tmpfs with the host's null, zero, full, random, urandom and tty (made with mknod: no bind per node),
   the usual symlinks, an empty shm and a devpts of its own. */
static int dev_op(const char *dest) {
  char d[PATH_MAX], p[PATH_MAX + 32]; /* d + a short name: never truncated */
  if (join(d, NEWROOT, dest)) return fail("Path too long", dest);
  /* nosuid only, as bwrap: device nodes need dev, and /dev/shm (a directory here) must allow exec for JITs. */
  if (tmpfs_at(d, MS_NOSUID, dest) != 0) return -1;
  static const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t k = 0; k < sizeof nodes / sizeof *nodes; k++) {
    struct stat st;
    snprintf(p, sizeof p, OLDROOT "/dev/%s", nodes[k]);
    if (stat(p, &st) != 0 || !S_ISCHR(st.st_mode)) return fail("Can't find the host's device", p + strlen(OLDROOT));
    snprintf(p, sizeof p, "%s/%s", d, nodes[k]);
    if (mknod(p, S_IFCHR | 0666, st.st_rdev) != 0 || chmod(p, 0666) != 0) return fail("Can't create device", p + strlen(NEWROOT));
  }
  static const char *links[][2] = {{"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
                                   {"fd", "/proc/self/fd"},      {"core", "/proc/kcore"},        {"ptmx", "pts/ptmx"}};
  for (size_t k = 0; k < sizeof links / sizeof *links; k++) {
    snprintf(p, sizeof p, "%s/%s", d, links[k][0]);
    if (symlink(links[k][1], p) != 0) return fail("Can't create symlink", p + strlen(NEWROOT));
  }
  snprintf(p, sizeof p, "%s/shm", d);
  if (mkdir(p, 0755) != 0) return fail("Can't create", p + strlen(NEWROOT));
  snprintf(p, sizeof p, "%s/pts", d);
  if (mkdir(p, 0755) != 0) return fail("Can't create", p + strlen(NEWROOT));
  if (mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") != 0) return fail("Can't mount devpts at", p + strlen(NEWROOT));
  return 0;
}

static int symlink_op(const char *target, const char *dest) {
  char d[PATH_MAX];
  if (join(d, NEWROOT, dest)) return fail("Path too long", dest);
  if (symlink(target, d) == 0) return 0;
  char have[PATH_MAX];
  ssize_t n = readlink(d, have, sizeof have - 1);
  if (n >= 0 && (have[n] = 0, strcmp(have, target) == 0)) return 0;
  return fail("Can't make symlink at", dest);
}

/* The loopback interface of a new network namespace, up (as bwrap does): a run without networking still has it. */
static int loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return fail("Can't open a socket to set lo up", NULL);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    r = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
  return r == 0 ? 0 : fail("Can't set the loopback interface up", NULL);
}

/*
 * Every capability out of the bounding, ambient and inheritable sets; of the effective and permitted sets only
 * CAP_SETUID and CAP_SETGID stay, for the inner supervisor (pid 1, uid 0) to make the run's process the run user
 * (supervisor.c, become_run_user), which clears them in that process. They do not survive an exec: with an empty
 * bounding set, an executed program (uid 0 or not) starts with no capabilities at all.
 */
static int drop_caps(void) {
  for (int cap = 0; cap <= 63; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return fail("Can't drop capabilities", NULL);
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return fail("Can't clear ambient capabilities", NULL);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  data[0].effective = data[0].permitted = (1u << CAP_SETUID) | (1u << CAP_SETGID);
  if (syscall(SYS_capset, &hdr, data) != 0) return fail("Can't drop capabilities", NULL);
  return 0;
}

struct options {
  int unshare;
  int die_with_parent;
  int drop_caps;
  const char *hostname;
  const char *chdir;
  char **ops;   /* the mount ops, in order, as given */
  int n_ops;    /* argv entries from ops */
  char **command;
  /* This program's file (dev, inode), from /proc/self/exe before the sandbox exists; st_ino 0: unknown. */
  struct stat self;
};

/* supervisor.c: the inner supervisor's modes (`-w`, `-r FD PROGRAM...`) run in this process, as if executed; -1 (and
   nothing done): argv is not one of them. */
int supervisor_inner_main(char **argv);

/* Checks the command line; the mount ops are only walked (and done) in the sandbox. 0, or -1 with a message. */
static int parse(int argc, char **argv, struct options *o) {
  memset(o, 0, sizeof *o);
  o->unshare = CLONE_NEWNS;
  int i = 0;
  o->ops = argv;
  for (; i < argc; i++) {
    const char *a = argv[i];
    int need = 0;
    if (strcmp(a, "--") == 0) break;
    if (!strcmp(a, "--die-with-parent")) o->die_with_parent = 1;
    else if (!strcmp(a, "--unshare-pid")) o->unshare |= CLONE_NEWPID;
    else if (!strcmp(a, "--unshare-ipc")) o->unshare |= CLONE_NEWIPC;
    else if (!strcmp(a, "--unshare-uts")) o->unshare |= CLONE_NEWUTS;
    else if (!strcmp(a, "--unshare-net")) o->unshare |= CLONE_NEWNET;
    else if (!strcmp(a, "--hostname") || !strcmp(a, "--chdir") || !strcmp(a, "--cap-drop") || !strcmp(a, "--dev") ||
             !strcmp(a, "--proc") || !strcmp(a, "--tmpfs")) need = 1;
    else if (!strcmp(a, "--ro-bind") || !strcmp(a, "--bind") || !strcmp(a, "--dev-bind") || !strcmp(a, "--symlink")) need = 2;
    else {
      fprintf(stderr, "dsjobs sandbox: unknown option %s\n", a);
      return -1;
    }
    if (i + need >= argc) {
      fprintf(stderr, "dsjobs sandbox: %s needs %d argument%s\n", a, need, need > 1 ? "s" : "");
      return -1;
    }
    if (!strcmp(a, "--hostname")) o->hostname = argv[i + 1];
    if (!strcmp(a, "--chdir")) o->chdir = argv[i + 1];
    if (!strcmp(a, "--cap-drop")) {
      if (strcmp(argv[i + 1], "ALL") != 0) {
        fprintf(stderr, "dsjobs sandbox: --cap-drop takes ALL only\n");
        return -1;
      }
      o->drop_caps = 1;
    }
    i += need;
  }
  o->n_ops = i;
  if (i + 1 >= argc) {
    fprintf(stderr, "dsjobs sandbox: no command after --\n");
    return -1;
  }
  if (o->hostname && !(o->unshare & CLONE_NEWUTS)) {
    fprintf(stderr, "dsjobs sandbox: --hostname needs --unshare-uts\n");
    return -1;
  }
  o->command = argv + i + 1;
  return 0;
}

static int do_ops(const struct options *o) {
  char **a = o->ops;
  for (int i = 0; i < o->n_ops; i++) {
    const char *op = a[i];
    int r = 0;
    char d[PATH_MAX];
    if (!strcmp(op, "--ro-bind")) r = bind_op(a[i + 1], a[i + 2], 1, 0), i += 2;
    else if (!strcmp(op, "--bind")) r = bind_op(a[i + 1], a[i + 2], 0, 0), i += 2;
    else if (!strcmp(op, "--dev-bind")) r = bind_op(a[i + 1], a[i + 2], 0, 1), i += 2;
    else if (!strcmp(op, "--symlink")) r = symlink_op(a[i + 1], a[i + 2]), i += 2;
    else if (!strcmp(op, "--tmpfs")) r = join(d, NEWROOT, a[i + 1]) ? fail("Path too long", a[i + 1]) : tmpfs_at(d, MS_NOSUID | MS_NODEV, a[i + 1]), i += 1;
    else if (!strcmp(op, "--proc")) r = proc_op(a[i + 1]), i += 1;
    else if (!strcmp(op, "--dev")) r = dev_op(a[i + 1]), i += 1;
    else if (!strcmp(op, "--hostname") || !strcmp(op, "--chdir") || !strcmp(op, "--cap-drop")) i += 1;
    if (r != 0) return -1;
  }
  return 0;
}

/*
 * The sandbox's pid 1 (or its only process without --unshare-pid): makes its namespaces but the pid one (made by the
 * monitor, so that this process is its first), builds the root, enters it, runs the command. `monitor` is a pidfd of
 * the parent (or -1): with --die-with-parent, a parent that died before the death signal was armed ends this too.
 */
static int sandbox_child(const struct options *o, int monitor) {
  if (o->die_with_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return fail("Can't set the parent-death signal", NULL);
    struct pollfd p = {monitor, POLLIN, 0};
    if (monitor >= 0 && poll(&p, 1, 0) > 0) _exit(1);
  }
  if (monitor >= 0) close(monitor);
  if (unshare(o->unshare & ~CLONE_NEWPID) != 0) return fail("Can't create the namespaces", NULL);
  /* Host mount events reach the sandbox, none go back. */
  if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) != 0) return fail("Can't make the mounts slaves", NULL);
  /* bwrap's base: a tmpfs that becomes the root for the set-up, with the host's tree under /oldroot. */
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) return fail("Can't mount the set-up tmpfs on", "/tmp");
  if (mkdir("/tmp" NEWROOT, 0755) != 0 || mkdir("/tmp" OLDROOT, 0755) != 0) return fail("Can't create", "/tmp" NEWROOT);
  if (mount("/tmp" NEWROOT, "/tmp" NEWROOT, NULL, MS_BIND, NULL) != 0) return fail("Can't bind", NEWROOT);
  if (chdir("/tmp") != 0 || syscall(SYS_pivot_root, "/tmp", "/tmp" OLDROOT) != 0 || chdir("/") != 0) return fail("Can't pivot into the set-up tmpfs", NULL);
  if (do_ops(o) != 0) return -1;
  if ((o->unshare & CLONE_NEWNET) && loopback_up() != 0) return -1;
  if (o->hostname && sethostname(o->hostname, strlen(o->hostname)) != 0) return fail("Can't set the hostname", o->hostname);
  /* The host's tree goes; /newroot becomes the root and the set-up tmpfs goes too. */
  if (umount2(OLDROOT, MNT_DETACH) != 0) return fail("Can't detach", OLDROOT);
  if (chdir(NEWROOT) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 || umount2(".", MNT_DETACH) != 0 || chdir("/") != 0) return fail("Can't pivot into", NEWROOT);
  if (o->chdir && chdir(o->chdir) != 0) return fail("Can't chdir to", o->chdir);
  if (o->drop_caps && drop_caps() != 0) return -1;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("Can't set no_new_privs", NULL);
  /* The command is this program's inner supervisor (the server's always is): it runs here, without an exec, which
     would cost every start ~0.2-0.5 ms of CPU (loading, page faults). Capabilities and no_new_privs are already as an
     exec would leave them, and no signal handler is installed before this point; the fds an exec would close are
     closed there (supervisor_inner_main). */
  struct stat cmd;
  if (o->self.st_ino != 0 && stat(o->command[0], &cmd) == 0 && cmd.st_dev == o->self.st_dev && cmd.st_ino == o->self.st_ino) {
    int r = supervisor_inner_main(o->command);
    if (r >= 0) _exit(r);
  }
  execvp(o->command[0], o->command);
  return fail("Can't execute", o->command[0]);
}

int sandbox_main(int argc, char **argv) {
  struct options o;
  if (parse(argc, argv, &o) != 0) return 1;
  if (stat("/proc/self/exe", &o.self) != 0) o.self.st_ino = 0;
  if (!(o.unshare & CLONE_NEWPID)) return sandbox_child(&o, -1), 1;
  if (o.die_with_parent) {
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return fail("Can't set the parent-death signal", NULL), 1;
    if (getppid() != parent) return 1;
  }
  /* Only the pid namespace here: this process (the monitor) stays in the host's mount namespace, without a copy of
     the tree to pin, as bwrap's does. */
  if (unshare(CLONE_NEWPID) != 0) return fail("Can't create the namespaces", NULL), 1;
  int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
  pid_t pid = fork();
  if (pid < 0) return fail("Can't fork", NULL), 1;
  if (pid == 0) _exit(sandbox_child(&o, self) == 0 ? 0 : 1);
  /* The monitor holds nothing of the run's: its fds stay with the sandbox. */
  if (syscall(SYS_close_range, 3, ~0U, 0) != 0) {
    for (int fd = 3; fd < 1024; fd++) close(fd);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return fail("waitpid", NULL), 1;
  }
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
