using System.Runtime.InteropServices;

namespace Supervisor.Linux.Notify;

/// <summary>poll(2) for readability on a few descriptors, so a watcher thread can block on its event
/// source and on a wake-up eventfd at the same time.</summary>
public static partial class FdPoll
{
    private const short POLLIN = 0x001;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>
    /// Waits until at least one of <paramref name="fds"/> is readable (or hung up / in error) or the timeout
    /// passes; returns, per descriptor, whether it is ready. A negative timeout waits forever.
    /// </summary>
    public static unsafe bool[] WaitReadable(ReadOnlySpan<int> fds, int timeoutMs)
    {
        var pfds = stackalloc PollFd[fds.Length];
        for (int i = 0; i < fds.Length; i++)
            pfds[i] = new PollFd { Fd = fds[i], Events = POLLIN };
        while (true)
        {
            int n = poll(pfds, (nuint)fds.Length, timeoutMs);
            if (n < 0)
            {
                var errno = (Errno)Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                    continue;
                throw new SyscallException("poll", null, errno);
            }
            var ready = new bool[fds.Length];
            for (int i = 0; i < fds.Length; i++)
                ready[i] = pfds[i].Revents != 0;
            return ready;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int poll(PollFd* fds, nuint nfds, int timeout);
}
