/*
 * Test helper: load a compiled seccomp program into this process, then either exec a command or make one
 * raw system call and report its outcome. It does what the shim does last before execve
 * (no_new_privs, then seccomp(SECCOMP_SET_MODE_FILTER)), so the tests see the kernel's real verdicts.
 *
 *   seccomp-apply PROGRAM FLAGS -- COMMAND [ARG...]
 *   seccomp-apply PROGRAM FLAGS --syscall NR [ARG...]     prints "ret=N" or "errno=N"
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
    if (strcmp(argv[3], "--syscall") != 0) {
        fprintf(stderr, "seccomp-apply: unknown mode %s\n", argv[3]);
        return 125;
    }

    long nr = strtol(argv[4], NULL, 0);
    unsigned long a[6] = { 0 };
    for (int i = 0; i < 6 && 5 + i < argc; i++)
        a[i] = strtoul(argv[5 + i], NULL, 0);
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
