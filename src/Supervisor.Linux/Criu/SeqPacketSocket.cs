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
    private const int MSG_TRUNC = 0x20;
    private const int MSG_CTRUNC = 0x08;
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
        byte dummy = 0;
        const int controlSize = 24; // CMSG_SPACE(sizeof(int))
        byte* control = stackalloc byte[controlSize];
        fixed (byte* p = data)
        {
            var iov = new LibcSocket.IoVec { Base = data.Length > 0 ? p : &dummy, Length = (nuint)data.Length };
            var msg = new LibcSocket.MsgHdr { Iov = &iov, IovLength = 1 };
            if (fdToPass >= 0)
            {
                new Span<byte>(control, controlSize).Clear();
                var c = (LibcSocket.CmsgHdr*)control;
                c->Length = (nuint)(sizeof(LibcSocket.CmsgHdr) + sizeof(int));
                c->Level = LibcSocket.SOL_SOCKET;
                c->Type = LibcSocket.SCM_RIGHTS;
                *(int*)(control + sizeof(LibcSocket.CmsgHdr)) = fdToPass;
                msg.Control = control;
                msg.ControlLength = controlSize;
            }
            while (true)
            {
                nint n = LibcSocket.SendMsg(_fd, &msg, LibcSocket.MSG_NOSIGNAL);
                if (n >= 0)
                    return;
                var e = Syscalls.LastErrno();
                if (e != Errno.EINTR)
                    throw new SyscallException("sendmsg", "seqpacket socket " + _fd.ToString(CultureInfo.InvariantCulture), e);
            }
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
        const int controlSize = 64;
        byte* control = stackalloc byte[controlSize];
        fixed (byte* p = buffer)
        {
            var iov = new LibcSocket.IoVec { Base = p, Length = (nuint)buffer.Length };
            var msg = new LibcSocket.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = controlSize };
            nint n;
            while (true)
            {
                n = LibcSocket.RecvMsg(_fd, &msg, LibcSocket.MSG_CMSG_CLOEXEC);
                if (n >= 0)
                    break;
                var e = Syscalls.LastErrno();
                if (e != Errno.EINTR)
                    throw new SyscallException("recvmsg", "seqpacket socket " + _fd.ToString(CultureInfo.InvariantCulture), e);
            }
            SafeFileHandle? fd = null;
            nuint off = 0;
            // CMSG_FIRSTHDR/CMSG_NXTHDR: 16-byte headers, entries aligned to 8 bytes.
            while (off + (nuint)sizeof(LibcSocket.CmsgHdr) <= msg.ControlLength)
            {
                var c = (LibcSocket.CmsgHdr*)(control + off);
                if (c->Length < (nuint)sizeof(LibcSocket.CmsgHdr))
                    break;
                if (c->Level == LibcSocket.SOL_SOCKET && c->Type == LibcSocket.SCM_RIGHTS)
                {
                    int count = (int)((c->Length - (nuint)sizeof(LibcSocket.CmsgHdr)) / sizeof(int));
                    int* fds = (int*)((byte*)c + sizeof(LibcSocket.CmsgHdr));
                    for (int i = 0; i < count; i++)
                    {
                        if (fd is null)
                            fd = new SafeFileHandle(fds[i], ownsHandle: true);
                        else
                            LibcIo.Close(fds[i]);
                    }
                }
                off += (c->Length + 7) & ~(nuint)7;
            }
            if ((msg.Flags & MSG_TRUNC) != 0)
            {
                fd?.Dispose();
                throw new SyscallException("recvmsg", $"record larger than {maxSize} bytes", Errno.EMSGSIZE);
            }
            if ((msg.Flags & MSG_CTRUNC) != 0)
            {
                fd?.Dispose();
                throw new SyscallException("recvmsg", "control data truncated", Errno.EMSGSIZE);
            }
            if (n == 0 && fd is null)
                return null;
            return new SeqPacket(buffer.AsSpan(0, (int)n).ToArray(), fd);
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
            LibcIo.Close(fd);
    }
}
