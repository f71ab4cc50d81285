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
    private const int SOL_SOCKET = 1;
    private const int SCM_RIGHTS = 1;

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
            // cmsghdr { size_t len; int level; int type; } + one int, padded to 8: CMSG_SPACE(4) = 24.
            byte* control = stackalloc byte[24];
            new Span<byte>(control, 24).Clear();
            *(ulong*)control = 20; // CMSG_LEN(sizeof(int))
            *(int*)(control + 8) = SOL_SOCKET;
            *(int*)(control + 12) = SCM_RIGHTS;
            *(int*)(control + 16) = (int)pty.DangerousGetHandle();
            fixed (byte* data = payload)
            {
                var iov = new IoVec { Base = data, Length = (nuint)payload.Length };
                var msg = new MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = 24 };
                if (sendmsg(sock, &msg, 0) < 0)
                    throw new SyscallException("sendmsg", socketPath, (Errno)Marshal.GetLastPInvokeError());
            }
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
        const int MSG_CMSG_CLOEXEC = 0x40000000;
        byte* data = stackalloc byte[256];
        byte* control = stackalloc byte[64];
        var iov = new IoVec { Base = data, Length = 256 };
        var msg = new MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = 64 };
        bool added = false;
        connection.DangerousAddRef(ref added);
        try
        {
            if (recvmsg((int)connection.DangerousGetHandle(), &msg, MSG_CMSG_CLOEXEC) < 0)
                throw new SyscallException("recvmsg", "console socket", (Errno)Marshal.GetLastPInvokeError());
        }
        finally
        {
            if (added)
                connection.DangerousRelease();
        }
        if (msg.ControlLen < 20 || *(int*)(control + 8) != SOL_SOCKET || *(int*)(control + 12) != SCM_RIGHTS)
            throw new SyscallException("recvmsg", "console socket: no file descriptor received", Errno.EBADF);
        return new Microsoft.Win32.SafeHandles.SafeFileHandle(*(int*)(control + 16), ownsHandle: true);
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

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MsgHdr
    {
        public void* Name;
        public uint NameLen;
        public IoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
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
    private static unsafe partial nint sendmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint recvmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
