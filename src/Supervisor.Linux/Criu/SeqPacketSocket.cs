using System.Globalization;
using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Interop;

namespace Supervisor.Linux.Criu;

/// <summary>One datagram received from a SOCK_SEQPACKET socket, with the fd that came along (SCM_RIGHTS).</summary>
public sealed record SeqPacket(byte[] Data, SafeFileHandle? Fd);

/// <summary>
/// One end of an AF_UNIX SOCK_SEQPACKET socketpair. Each send is one record and each receive returns
/// exactly one record, so a protocol such as CRIU's swrk RPC needs no length prefix. Both ends are
/// close-on-exec; a child gets its end only through an explicit dup2 when it is spawned.
/// </summary>
public sealed unsafe class SeqPacketSocket : IDisposable
{
    public const int SOCK_SEQPACKET = 5;
    private int _fd;

    private SeqPacketSocket(int fd) => _fd = fd;

    public int Fd => _fd;

    public static (SeqPacketSocket A, SeqPacketSocket B) CreatePair()
    {
        int* sv = stackalloc int[2];
        if (LibcSocket.SocketPair(LibcSocket.AF_UNIX, SOCK_SEQPACKET | LibcSocket.SOCK_CLOEXEC, 0, sv) < 0)
            throw new SyscallException("socketpair(SOCK_SEQPACKET)", null, Syscalls.LastErrno());
        return (new SeqPacketSocket(sv[0]), new SeqPacketSocket(sv[1]));
    }

    /// <summary>Sends one record, optionally with one fd attached (SCM_RIGHTS).</summary>
    public void Send(ReadOnlySpan<byte> data, int fdToPass = -1)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        while (UnixMessages.Send(_fd, data, fdToPass) < 0)
        {
            var e = Syscalls.LastErrno();
            if (e != Errno.EINTR)
                throw new SyscallException("sendmsg", "seqpacket socket " + _fd.ToString(CultureInfo.InvariantCulture), e);
        }
    }

    /// <summary>
    /// Receives one record of at most <paramref name="maxSize"/> bytes; null when the peer closed its end
    /// (for CRIU: it exited or was killed). A record that did not fit is an error, not a silent cut.
    /// </summary>
    public SeqPacket? Receive(int maxSize = 64 * 1024)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        var buffer = new byte[maxSize];
        SafeFileHandle? fd = null;
        nint n;
        int flags;
        while ((n = UnixMessages.Receive(_fd, buffer, ref fd, out flags)) < 0)
        {
            var e = Syscalls.LastErrno();
            if (e != Errno.EINTR)
                throw new SyscallException("recvmsg", "seqpacket socket " + _fd.ToString(CultureInfo.InvariantCulture), e);
        }
        if ((flags & UnixMessages.MSG_TRUNC) != 0)
        {
            fd?.Dispose();
            throw new SyscallException("recvmsg", $"record larger than {maxSize} bytes", Errno.EMSGSIZE);
        }
        if ((flags & UnixMessages.MSG_CTRUNC) != 0)
        {
            fd?.Dispose();
            throw new SyscallException("recvmsg", "control data truncated", Errno.EMSGSIZE);
        }
        if (n == 0 && fd is null)
            return null;
        return new SeqPacket(buffer.AsSpan(0, (int)n).ToArray(), fd);
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
            LibcIo.Close(fd);
    }
}
