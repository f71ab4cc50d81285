using System.Runtime.InteropServices;

namespace Supervisor.Linux.Notify;

/// <summary>
/// An inotify(7) instance. cgroup v2 has no eventfd interface: the kernel raises IN_MODIFY on
/// <c>memory.events</c> (and <c>cgroup.events</c>) whenever a counter in it changes, so OOM kills are
/// observed by watching that file and re-reading it.
/// </summary>
public sealed partial class Inotify : IDisposable
{
    public const uint IN_MODIFY = 0x00000002;
    public const uint IN_DELETE_SELF = 0x00000400;
    public const uint IN_IGNORED = 0x00008000;
    private const int IN_CLOEXEC = 0x80000;
    private const int IN_NONBLOCK = 0x800;
    private int _fd;

    private Inotify(int fd) => _fd = fd;

    public int Fd => _fd >= 0 ? _fd : throw new ObjectDisposedException(nameof(Inotify));

    /// <summary>A close-on-exec, non-blocking instance; readiness is awaited with <see cref="FdPoll"/>.</summary>
    public static Inotify Create()
    {
        int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd < 0)
            throw new SyscallException("inotify_init1", null, (Errno)Marshal.GetLastPInvokeError());
        return new Inotify(fd);
    }

    /// <summary>Adds a watch and returns its descriptor.</summary>
    public int AddWatch(string path, uint mask)
    {
        int wd = inotify_add_watch(Fd, path, mask);
        if (wd < 0)
            throw new SyscallException("inotify_add_watch", path, (Errno)Marshal.GetLastPInvokeError());
        return wd;
    }

    /// <summary>Drains pending events and returns their masks (empty when none are queued).</summary>
    public unsafe IReadOnlyList<uint> ReadMasks()
    {
        var masks = new List<uint>();
        // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[]; }: watches on files
        // carry no name, but the buffer must still fit NAME_MAX for the kernel to accept the read.
        byte* buf = stackalloc byte[4096];
        while (true)
        {
            nint n = read(Fd, buf, 4096);
            if (n < 0)
            {
                var errno = (Errno)Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                    continue;
                if (errno == Errno.EAGAIN)
                    return masks;
                throw new SyscallException("read inotify", null, errno);
            }
            if (n == 0)
                return masks;
            for (nint off = 0; off + 16 <= n;)
            {
                uint mask = *(uint*)(buf + off + 4);
                uint len = *(uint*)(buf + off + 12);
                masks.Add(mask);
                off += 16 + (nint)len;
            }
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
            close(fd);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int inotify_init1(int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int inotify_add_watch(int fd, string path, uint mask);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, void* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
