/*
 * shim_io.c: EINTR-safe I/O and the framed messages used on every shim socket.
 *
 * Every channel (control socket, C1 -> shim, shim <-> C2) carries shim_msg_header + payload. Sends use
 * sendmsg(MSG_NOSIGNAL) so a vanished peer is an EPIPE error instead of a SIGPIPE: C2 runs with the
 * default SIGPIPE disposition because ignored signals would be inherited across execve.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

ssize_t shim_read_full(int fd, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, (char *)buf + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int shim_write_all(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, (const char *)buf + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

int shim_send_msg(int fd, uint32_t type, const void *payload, uint32_t len, int passfd)
{
    struct shim_msg_header h = { .type = type, .length = len };
    struct iovec iov[2] = {
        { .iov_base = &h, .iov_len = sizeof h },
        { .iov_base = (void *)payload, .iov_len = len },
    };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cbuf;
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
    if (passfd >= 0) {
        memset(&cbuf, 0, sizeof cbuf);
        msg.msg_control = cbuf.buf;
        msg.msg_controllen = sizeof cbuf.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &passfd, sizeof(int));
    }
    size_t total = sizeof h + len, sent = 0;
    while (sent < total) {
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        sent += (size_t)n;
        /* A partial send: the fd went with the first byte; advance the iovecs for the rest. */
        msg.msg_control = NULL;
        msg.msg_controllen = 0;
        size_t skip = (size_t)n;
        while (msg.msg_iovlen > 0 && skip >= msg.msg_iov[0].iov_len) {
            skip -= msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + skip;
            msg.msg_iov[0].iov_len -= skip;
        }
    }
    return 0;
}

/* recvmsg into buf, collecting at most one SCM_RIGHTS fd. Returns bytes read (0 = EOF) or -1. */
static ssize_t recv_some(int fd, void *buf, size_t len, int *fd_out)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
                          .msg_controllen = sizeof cbuf.buf };
    ssize_t n;
    do {
        n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        /* Not a socket (a pipe or file in the tests): fall back to read. */
        if (errno == ENOTSOCK) {
            do {
                n = read(fd, buf, len);
            } while (n < 0 && errno == EINTR);
        }
        return n;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fd_out && *fd_out < 0)
                *fd_out = got;
            else
                close(got);
        }
    }
    return n;
}

static int recv_exact(int fd, void *buf, size_t len, int *fd_out)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = recv_some(fd, (char *)buf + done, len - done, fd_out);
        if (n < 0)
            return -1;
        if (n == 0)
            return done == 0 ? 0 : (errno = EPROTO, -1);
        done += (size_t)n;
    }
    return 1;
}

int shim_recv_msg(int fd, struct shim_msg_header *h, void *payload, size_t cap, int *fd_out)
{
    if (fd_out)
        *fd_out = -1;
    int r = recv_exact(fd, h, sizeof *h, fd_out);
    if (r <= 0)
        return r;
    if (h->length > cap) {
        errno = EPROTO;
        return -1;
    }
    if (h->length == 0)
        return 1;
    r = recv_exact(fd, payload, h->length, fd_out);
    if (r == 0) {
        errno = EPROTO;
        return -1;
    }
    return r;
}

size_t shim_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    while (src && src[n] && n + 1 < cap) {
        dst[n] = src[n];
        n++;
    }
    dst[n] = '\0';
    return n;
}

size_t shim_strlcat(char *dst, const char *src, size_t cap)
{
    size_t n = 0;
    while (n < cap && dst[n])
        n++;
    if (n >= cap)
        return n;
    return n + shim_strlcpy(dst + n, src, cap - n);
}

char *shim_utoa(unsigned long long v, char *buf)
{
    char tmp[21];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    int j = 0;
    while (i > 0)
        buf[j++] = tmp[--i];
    buf[j] = '\0';
    return buf;
}

char *shim_fd_path(int fd, char *buf)
{
    char num[21];
    shim_strlcpy(buf, "/proc/self/fd/", 32);
    shim_strlcat(buf, shim_utoa((unsigned)fd, num), 32);
    return buf;
}
