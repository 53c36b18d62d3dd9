/*
 * The run's seccomp filter, in the spirit of Docker's default profile: the kernel interfaces a job has no use for and
 * that widen what a bug in the kernel can reach are refused with EPERM (ENOSYS for clone3), so a program that probes
 * for them degrades instead of dying. Installed by the inner supervisor in itself before it starts the run's program
 * (supervisor.c, enter_seccomp): inherited by every process the run makes, and cannot be removed.
 *
 * Refused (where the architecture has them):
 *   - new namespaces: unshare() and clone() with any CLONE_NEW* flag (a user namespace would give the run a full
 *     capability set inside it: tmpfs mounts, and the kernel code only root normally reaches), setns();
 *     clone3() says ENOSYS (its flags are in memory a filter cannot read; the C library then falls back to clone());
 *   - io_uring (io_uring_setup, io_uring_enter, io_uring_register): a large, often-patched attack surface;
 *   - the kernel keyring (add_key, request_key, keyctl): not namespaced;
 *   - mounting (mount, umount2, pivot_root, chroot and the new mount API: open_tree, move_mount, fsopen, fsconfig,
 *     fsmount, fspick, mount_setattr);
 *   - the kernel itself: kexec_load, kexec_file_load, init_module, finit_module, delete_module, bpf, perf_event_open,
 *     reboot, swapon, swapoff, acct, syslog, quotactl, lookup_dcookie, iopl, ioperm, vhangup, userfaultfd,
 *     open_by_handle_at, name_to_handle_at, fanotify_init, settimeofday, clock_settime, clock_adjtime, adjtimex,
 *     sethostname, setdomainname, uselib, nfsservctl, _sysctl, create_module, get_kernel_syms, query_module.
 * ptrace and process_vm_readv/writev are allowed, as in Docker's profile on kernels >= 4.8: the run can only see its
 * own processes (pid namespace) and the one that is not its own, the supervisor at pid 1, runs as another user and is
 * not dumpable, so the kernel's own access check refuses it; debuggers and profilers (gdb, py-spy) keep working.
 *
 * Any other architecture than the one this program was built for (32-bit system calls from a 64-bit process, x32)
 * kills the process: the numbers above would not mean the same calls there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define DSJ_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define DSJ_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef DSJ_AUDIT_ARCH
static const int denied[] = {
#ifdef __NR_setns
    __NR_setns,
#endif
#ifdef __NR_io_uring_setup
    __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
#endif
    __NR_add_key, __NR_request_key, __NR_keyctl,
    __NR_mount, __NR_umount2, __NR_pivot_root, __NR_chroot,
#ifdef __NR_open_tree
    __NR_open_tree, __NR_move_mount, __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick,
#endif
#ifdef __NR_mount_setattr
    __NR_mount_setattr,
#endif
    __NR_kexec_load,
#ifdef __NR_kexec_file_load
    __NR_kexec_file_load,
#endif
    __NR_init_module, __NR_finit_module, __NR_delete_module, __NR_bpf, __NR_perf_event_open,
    __NR_reboot, __NR_swapon, __NR_swapoff, __NR_acct, __NR_syslog, __NR_quotactl,
#ifdef __NR_lookup_dcookie
    __NR_lookup_dcookie,
#endif
#ifdef __NR_iopl
    __NR_iopl, __NR_ioperm,
#endif
    __NR_vhangup, __NR_userfaultfd, __NR_open_by_handle_at, __NR_name_to_handle_at, __NR_fanotify_init,
    __NR_settimeofday, __NR_clock_settime, __NR_clock_adjtime, __NR_adjtimex, __NR_sethostname, __NR_setdomainname,
#ifdef __NR_uselib
    __NR_uselib,
#endif
#ifdef __NR_nfsservctl
    __NR_nfsservctl,
#endif
#ifdef __NR__sysctl
    __NR__sysctl,
#endif
#ifdef __NR_create_module
    __NR_create_module, __NR_get_kernel_syms, __NR_query_module,
#endif
};

/* CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET and
   CLONE_NEWTIME (0x80), spelled out: <sched.h> hides some of them behind feature macros. */
#define DSJ_CLONE_NEW_ANY 0x7E020080u

#define DENY(e) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define ARG0_LO offsetof(struct seccomp_data, args[0]) /* little-endian: the low 32 bits, where the flags are */

int install_run_seccomp(void) {
  enum { N = sizeof denied / sizeof *denied };
  struct sock_filter f[8 + 2 * N + 16];
  unsigned n = 0;
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DSJ_AUDIT_ARCH, 1, 0);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
  /* x32 system calls (bit 30 set) share the architecture value: refused as a whole. */
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
  f[n++] = (struct sock_filter)DENY(EPERM);
#endif
  for (unsigned k = 0; k < N; k++) {
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied[k], 0, 1);
    f[n++] = (struct sock_filter)DENY(EPERM);
  }
#ifdef __NR_clone3
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1);
  f[n++] = (struct sock_filter)DENY(ENOSYS);
#endif
  /* clone and unshare: allowed unless a namespace flag is set in their first argument. */
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0);
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 3);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO);
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, DSJ_CLONE_NEW_ANY, 0, 1);
  f[n++] = (struct sock_filter)DENY(EPERM);
  f[n++] = (struct sock_filter)ALLOW;
  struct sock_fprog prog = {(unsigned short)n, f};
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
#else
/* An architecture without a list here: no filter, and the caller says so. */
int install_run_seccomp(void) {
  errno = ENOSYS;
  return -1;
}
#endif
