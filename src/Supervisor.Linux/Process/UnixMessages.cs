using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Interop;

namespace Supervisor.Linux;

/// <summary>
/// sendmsg/recvmsg on AF_UNIX sockets with at most one fd attached (SCM_RIGHTS): the shim's control
/// channel and CRIU's swrk socket both carry fds this way (the pty master, orphan-pts-master).
/// </summary>
internal static unsafe class UnixMessages
{
    public const int MSG_CTRUNC = 0x08;
    public const int MSG_TRUNC = 0x20;

    /// <summary>Room for several fds: a peer that sends more than one must not make the message fail.</summary>
    private const int ControlSize = 64;

    /// <summary>One sendmsg(MSG_NOSIGNAL) of <paramref name="data"/>, with <paramref name="fdToPass"/>
    /// attached when it is >= 0. Returns the bytes sent, or -1 with errno set (EINTR included).</summary>
    public static nint Send(int socket, ReadOnlySpan<byte> data, int fdToPass = -1)
    {
        byte dummy = 0;
        const int oneFdSpace = 24; // CMSG_SPACE(sizeof(int))
        byte* control = stackalloc byte[oneFdSpace];
        fixed (byte* p = data)
        {
            var iov = new LibcSocket.IoVec { Base = data.Length > 0 ? p : &dummy, Length = (nuint)data.Length };
            var msg = new LibcSocket.MsgHdr { Iov = &iov, IovLength = 1 };
            if (fdToPass >= 0)
            {
                new Span<byte>(control, oneFdSpace).Clear();
                var c = (LibcSocket.CmsgHdr*)control;
                c->Length = (nuint)(sizeof(LibcSocket.CmsgHdr) + sizeof(int));
                c->Level = LibcSocket.SOL_SOCKET;
                c->Type = LibcSocket.SCM_RIGHTS;
                *(int*)(control + sizeof(LibcSocket.CmsgHdr)) = fdToPass;
                msg.Control = control;
                msg.ControlLength = oneFdSpace;
            }
            return LibcSocket.SendMsg(socket, &msg, LibcSocket.MSG_NOSIGNAL);
        }
    }

    /// <summary>
    /// One recvmsg(MSG_CMSG_CLOEXEC) into <paramref name="buffer"/>. A received fd goes to
    /// <paramref name="fd"/> when that is still null; any other fd is closed at once, so nothing leaks.
    /// Returns the bytes received (0 at EOF) or -1 with errno set; <paramref name="flags"/> gets
    /// msg_flags (MSG_TRUNC, MSG_CTRUNC).
    /// </summary>
    public static nint Receive(int socket, Span<byte> buffer, ref SafeFileHandle? fd, out int flags)
    {
        byte* control = stackalloc byte[ControlSize];
        new Span<byte>(control, ControlSize).Clear();
        byte dummy = 0;
        fixed (byte* p = buffer)
        {
            var iov = new LibcSocket.IoVec { Base = buffer.Length > 0 ? p : &dummy, Length = (nuint)buffer.Length };
            var msg = new LibcSocket.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = ControlSize };
            nint n = LibcSocket.RecvMsg(socket, &msg, LibcSocket.MSG_CMSG_CLOEXEC);
            if (n < 0)
            {
                flags = 0;
                return n;
            }
            flags = msg.Flags;
            // CMSG_FIRSTHDR/CMSG_NXTHDR: 16-byte headers, entries aligned to 8 bytes.
            nuint off = 0;
            while (off + (nuint)sizeof(LibcSocket.CmsgHdr) <= msg.ControlLength)
            {
                var c = (LibcSocket.CmsgHdr*)(control + off);
                if (c->Length < (nuint)sizeof(LibcSocket.CmsgHdr) || off + c->Length > msg.ControlLength)
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
            return n;
        }
    }
}
