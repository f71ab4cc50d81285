/*
 * Test helper: load a compiled seccomp program into this process, then either exec a command or make one
 * raw system call and report its outcome. It does what the shim does last before execve
 * (no_new_privs, then seccomp(SECCOMP_SET_MODE_FILTER)), so the tests see the kernel's real verdicts.
 *
 *   seccomp-apply PROGRAM FLAGS -- COMMAND [ARG...]
 *   seccomp-apply PROGRAM FLAGS --syscall NR [ARG...]     prints "ret=N" or "errno=N"
 *   seccomp-apply PROGRAM FLAGS --syscall32 NR [ARG...]   the same through int $0x80, the i386 ABI
 *                                                         (x86_64 only; at most five arguments)
 *
 * PROGRAM is a file of struct sock_filter entries; "-" loads no filter (the control case).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int load(const char *path, unsigned long flags)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror("open program");
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0) {
        fprintf(stderr, "seccomp-apply: %s is not a sock_filter array\n", path);
        return -1;
    }
    struct sock_filter *insns = malloc((size_t)st.st_size);
    if (insns == NULL || read(fd, insns, (size_t)st.st_size) != st.st_size) {
        perror("read program");
        return -1;
    }
    close(fd);
    struct sock_fprog prog = {
        .len = (unsigned short)(st.st_size / sizeof(struct sock_filter)),
        .filter = insns,
    };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        perror("prctl(PR_SET_NO_NEW_PRIVS)");
        return -1;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0) {
        perror("seccomp(SECCOMP_SET_MODE_FILTER)");
        return -1;
    }
    free(insns);
    return 0;
}

/* A 64-bit process may still enter the kernel through the i386 entry point; seccomp then sees
 * AUDIT_ARCH_I386 and i386 syscall numbers, which is why a profile must cover that ABI too. */
static long syscall32(long nr, const unsigned long a[6])
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
                     : "memory", "r8", "r9", "r10", "r11");
    return ret;
#else
    (void)nr;
    (void)a;
    fprintf(stderr, "seccomp-apply: --syscall32 needs x86_64\n");
    exit(125);
#endif
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: seccomp-apply PROGRAM FLAGS -- COMMAND... | --syscall NR [ARG...]\n");
        return 125;
    }
    if (strcmp(argv[1], "-") != 0 && load(argv[1], strtoul(argv[2], NULL, 0)) < 0)
        return 125;

    if (strcmp(argv[3], "--") == 0) {
        execv(argv[4], &argv[4]);
        perror("execv");
        return 126;
    }
    int compat = strcmp(argv[3], "--syscall32") == 0;
    if (!compat && strcmp(argv[3], "--syscall") != 0) {
        fprintf(stderr, "seccomp-apply: unknown mode %s\n", argv[3]);
        return 125;
    }

    long nr = strtol(argv[4], NULL, 0);
    unsigned long a[6] = { 0 };
    for (int i = 0; i < 6 && 5 + i < argc; i++)
        a[i] = strtoul(argv[5 + i], NULL, 0);
    if (compat) {
        long r = syscall32(nr, a);
        if (r < 0 && r >= -4095)
            printf("errno=%ld\n", -r);
        else
            printf("ret=%ld\n", r);
        fflush(stdout);
        return 0;
    }
    errno = 0;
    long ret = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (ret == 0 && nr == SYS_clone)
        _exit(0); /* the child of a clone probe: leave without printing */
    if (ret < 0) {
        printf("errno=%d\n", errno);
    } else {
        printf("ret=%ld\n", ret);
        if (nr == SYS_clone)
            waitpid((pid_t)ret, NULL, 0);
    }
    fflush(stdout);
    return 0;
}
