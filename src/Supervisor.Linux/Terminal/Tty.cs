using System.Runtime.InteropServices;

namespace Supervisor.Linux.Terminal;

/// <summary>
/// The caller's side of a container terminal: raw mode for the user's tty, window sizes, and handing a
/// pty master to a --console-socket listener (runc's protocol: one sendmsg carrying the fd as
/// SCM_RIGHTS).
/// </summary>
public static partial class Tty
{
    private const int TCSANOW = 0;
    private const ulong TIOCGWINSZ = 0x5413;
    private const ulong TIOCSWINSZ = 0x5414;
    private const int AF_UNIX = 1;
    private const int SOCK_STREAM = 1;
    private const int SOCK_CLOEXEC = 0x80000;

    public static bool IsTerminal(int fd) => isatty(fd) == 1;

    /// <summary>
    /// Puts <paramref name="fd"/> into raw mode (no echo, no line editing, no signal keys: they go to the
    /// container's pty, whose own line discipline handles them) and returns what restores it.
    /// </summary>
    public static unsafe IDisposable MakeRaw(int fd)
    {
        var saved = new byte[TermiosSize];
        fixed (byte* p = saved)
        {
            if (tcgetattr(fd, p) != 0)
                throw new SyscallException("tcgetattr", $"fd {fd}", (Errno)Marshal.GetLastPInvokeError());
        }
        var raw = (byte[])saved.Clone();
        fixed (byte* p = raw)
        {
            cfmakeraw(p);
            if (tcsetattr(fd, TCSANOW, p) != 0)
                throw new SyscallException("tcsetattr", $"fd {fd}", (Errno)Marshal.GetLastPInvokeError());
        }
        return new Restore(fd, saved);
    }

    public static unsafe (ushort Rows, ushort Cols)? GetSize(int fd)
    {
        ushort* ws = stackalloc ushort[4];
        if (ioctl(fd, TIOCGWINSZ, ws) != 0)
            return null;
        return (ws[0], ws[1]);
    }

    public static unsafe void SetSize(SafeHandle pty, ushort rows, ushort cols)
    {
        ushort* ws = stackalloc ushort[4];
        ws[0] = rows;
        ws[1] = cols;
        ws[2] = 0;
        ws[3] = 0;
        bool added = false;
        pty.DangerousAddRef(ref added);
        try
        {
            if (ioctl((int)pty.DangerousGetHandle(), TIOCSWINSZ, ws) != 0)
                throw new SyscallException("ioctl(TIOCSWINSZ)", "pty", (Errno)Marshal.GetLastPInvokeError());
        }
        finally
        {
            if (added)
                pty.DangerousRelease();
        }
    }

    /// <summary>Connects to the unix socket at <paramref name="socketPath"/> and sends the pty master over it.</summary>
    public static unsafe void SendToConsoleSocket(string socketPath, SafeHandle pty, string name = "console")
    {
        int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sock < 0)
            throw new SyscallException("socket", socketPath, (Errno)Marshal.GetLastPInvokeError());
        bool added = false;
        pty.DangerousAddRef(ref added);
        try
        {
            var addr = new byte[110];
            BitConverter.GetBytes((ushort)AF_UNIX).CopyTo(addr, 0);
            var pathBytes = System.Text.Encoding.UTF8.GetBytes(socketPath);
            if (pathBytes.Length >= 108)
                throw new SyscallException("connect", socketPath, Errno.ENAMETOOLONG);
            pathBytes.CopyTo(addr, 2);
            fixed (byte* a = addr)
            {
                if (connect(sock, a, (uint)(2 + pathBytes.Length + 1)) != 0)
                    throw new SyscallException("connect", socketPath, (Errno)Marshal.GetLastPInvokeError());
            }
            var payload = System.Text.Encoding.UTF8.GetBytes(name);
            if (UnixMessages.Send(sock, payload, (int)pty.DangerousGetHandle()) < 0)
                throw new SyscallException("sendmsg", socketPath, Syscalls.LastErrno());
        }
        finally
        {
            if (added)
                pty.DangerousRelease();
            close(sock);
        }
    }

    /// <summary>
    /// The receiving side of --console-socket (what runc's recvtty does): reads the one message on an
    /// accepted connection and returns the pty master that came with it as SCM_RIGHTS.
    /// </summary>
    public static unsafe Microsoft.Win32.SafeHandles.SafeFileHandle ReceiveFromConsoleSocket(SafeHandle connection)
    {
        Span<byte> data = stackalloc byte[256];
        Microsoft.Win32.SafeHandles.SafeFileHandle? received = null;
        bool added = false;
        connection.DangerousAddRef(ref added);
        try
        {
            if (UnixMessages.Receive((int)connection.DangerousGetHandle(), data, ref received, out _) < 0)
                throw new SyscallException("recvmsg", "console socket", Syscalls.LastErrno());
        }
        finally
        {
            if (added)
                connection.DangerousRelease();
        }
        return received ?? throw new SyscallException("recvmsg", "console socket: no file descriptor received", Errno.EBADF);
    }

    /// <summary>sizeof(struct termios) on glibc/Linux is 60; a bigger buffer is harmless.</summary>
    private const int TermiosSize = 64;

    private sealed class Restore(int fd, byte[] saved) : IDisposable
    {
        private bool _done;

        public unsafe void Dispose()
        {
            if (_done)
                return;
            _done = true;
            fixed (byte* p = saved)
                tcsetattr(fd, TCSANOW, p);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int isatty(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int tcgetattr(int fd, byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int tcsetattr(int fd, int action, byte* termios);

    [LibraryImport("libc")]
    private static unsafe partial void cfmakeraw(byte* termios);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int ioctl(int fd, ulong request, void* arg);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int connect(int fd, byte* addr, uint len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
