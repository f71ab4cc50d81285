using System.Runtime.InteropServices;

namespace Supervisor.Linux.Notify;

/// <summary>
/// An eventfd(2) counter. The cgroup v1 memory controller signals OOM through one: the fd number is written
/// to <c>cgroup.event_control</c> together with an open <c>memory.oom_control</c> fd, and the kernel adds 1
/// to the counter for every OOM in the cgroup (and once more when the cgroup is removed).
/// </summary>
public sealed partial class EventFd : IDisposable
{
    private const int EFD_CLOEXEC = 0x80000; // O_CLOEXEC
    private const int EFD_NONBLOCK = 0x800;   // O_NONBLOCK
    private int _fd;

    private EventFd(int fd) => _fd = fd;

    /// <summary>The raw descriptor, valid until <see cref="Dispose"/>.</summary>
    public int Fd => _fd >= 0 ? _fd : throw new ObjectDisposedException(nameof(EventFd));

    /// <summary>A close-on-exec, non-blocking eventfd starting at 0; readiness is awaited with <see cref="FdPoll"/>.</summary>
    public static EventFd Create()
    {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            throw new SyscallException("eventfd", null, (Errno)Marshal.GetLastPInvokeError());
        return new EventFd(fd);
    }

    /// <summary>Reads and resets the counter; null when it is zero (EAGAIN).</summary>
    public unsafe ulong? TryRead()
    {
        ulong value;
        while (true)
        {
            nint n = read(Fd, &value, 8);
            if (n == 8)
                return value;
            var errno = (Errno)Marshal.GetLastPInvokeError();
            if (n < 0 && errno == Errno.EINTR)
                continue;
            if (n < 0 && errno == Errno.EAGAIN)
                return null;
            throw new SyscallException("read eventfd", null, n < 0 ? errno : Errno.EIO);
        }
    }

    /// <summary>Adds <paramref name="value"/> to the counter (used to wake a poller).</summary>
    public unsafe void Signal(ulong value = 1)
    {
        while (true)
        {
            nint n = write(Fd, &value, 8);
            if (n == 8)
                return;
            var errno = (Errno)Marshal.GetLastPInvokeError();
            if (n < 0 && errno == Errno.EINTR)
                continue;
            throw new SyscallException("write eventfd", null, n < 0 ? errno : Errno.EIO);
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
            close(fd);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, void* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, void* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
