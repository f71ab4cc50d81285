using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Interop;

namespace Supervisor.Linux.Shim;

/// <summary>One received message: its type, payload and the fd that came with it (SCM_RIGHTS).</summary>
internal sealed record ShimFrame(ShimMessage Type, byte[] Payload, SafeFileHandle? Fd);

/// <summary>
/// A framed connection to the shim over an AF_UNIX stream socket: shim_msg_header + payload, with an
/// optional fd attached. Receives wait in poll(2) on the socket and on a private wake pipe, so a
/// blocked receive can be interrupted by a timeout, a CancellationToken or Dispose from another thread.
/// </summary>
internal sealed unsafe class ShimChannel : IDisposable
{
    private int _fd;
    private readonly int _wakeRead, _wakeWrite;
    private volatile bool _closed;
    private int _busy;

    public ShimChannel(int fd)
    {
        int* p = stackalloc int[2];
        if (LibcIo.Pipe2(p, LibcIo.O_CLOEXEC | LibcIo.O_NONBLOCK) < 0)
        {
            var e = Syscalls.LastErrno();
            LibcIo.Close(fd);
            throw new SyscallException("pipe2", null, e);
        }
        _fd = fd;
        _wakeRead = p[0];
        _wakeWrite = p[1];
    }

    public bool IsClosed => _closed;

    public void Send(ShimMessage type, ReadOnlySpan<byte> payload)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        Span<byte> buf = stackalloc byte[ShimAbi.MsgHeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(buf, (uint)type);
        BinaryPrimitives.WriteUInt32LittleEndian(buf[4..], (uint)payload.Length);
        SendAll(buf);
        SendAll(payload);
    }

    private void SendAll(ReadOnlySpan<byte> data)
    {
        int done = 0;
        while (done < data.Length)
        {
            nint n = UnixMessages.Send(_fd, data[done..]);
            if (n < 0)
            {
                var e = Syscalls.LastErrno();
                if (e == Errno.EINTR)
                    continue;
                throw new SyscallException("sendmsg", "shim control socket", e);
            }
            done += (int)n;
        }
    }

    /// <summary>The next message, or null at EOF. Throws TimeoutException, OperationCanceledException, or
    /// ObjectDisposedException when the channel is closed meanwhile.</summary>
    public ShimFrame? Receive(TimeSpan? timeout, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        long deadline = timeout is { } t ? Environment.TickCount64 + (long)t.TotalMilliseconds : long.MaxValue;
        Interlocked.Increment(ref _busy);
        try
        {
            using var reg = ct.CanBeCanceled ? ct.Register(Wake) : default;
            SafeFileHandle? fd = null;
            var header = new byte[ShimAbi.MsgHeaderSize];
            if (!ReceiveExact(header, ref fd, deadline, ct, allowEof: true))
                return null;
            var type = (ShimMessage)BinaryPrimitives.ReadUInt32LittleEndian(header);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
            if (length > 1 << 20)
                throw new ShimException(ShimStep.Sync, Errno.EINVAL, $"message of {length} bytes from the shim");
            var payload = new byte[length];
            ReceiveExact(payload, ref fd, deadline, ct, allowEof: false);
            return new ShimFrame(type, payload, fd);
        }
        finally
        {
            Interlocked.Decrement(ref _busy);
        }
    }

    private bool ReceiveExact(byte[] buf, ref SafeFileHandle? fd, long deadline, CancellationToken ct, bool allowEof)
    {
        int got = 0;
        while (got < buf.Length)
        {
            WaitReadable(deadline, ct);
            nint n = RecvSome(buf.AsSpan(got), ref fd);
            if (n < 0)
            {
                var e = Syscalls.LastErrno();
                if (e is Errno.EINTR or Errno.EAGAIN)
                    continue;
                if (e == Errno.ECONNRESET && got == 0 && allowEof)
                    return false;
                throw new SyscallException("recvmsg", "shim control socket", e);
            }
            if (n == 0)
            {
                if (got == 0 && allowEof)
                    return false;
                throw new ShimException(ShimStep.Sync, Errno.None, "the shim closed the control socket in the middle of a message");
            }
            got += (int)n;
        }
        return true;
    }

    private nint RecvSome(Span<byte> buf, ref SafeFileHandle? fd) => UnixMessages.Receive(_fd, buf, ref fd, out _);

    private void WaitReadable(long deadline, CancellationToken ct)
    {
        var pfd = stackalloc LibcIo.PollFd[2];
        while (true)
        {
            if (_closed)
                throw new ObjectDisposedException(nameof(ShimSession));
            ct.ThrowIfCancellationRequested();
            long left = deadline == long.MaxValue ? -1 : Math.Max(0, deadline - Environment.TickCount64);
            pfd[0] = new LibcIo.PollFd { Fd = _fd, Events = LibcIo.POLLIN };
            pfd[1] = new LibcIo.PollFd { Fd = _wakeRead, Events = LibcIo.POLLIN };
            int r = LibcIo.Poll(pfd, 2, left > int.MaxValue ? int.MaxValue : (int)left);
            if (r < 0)
            {
                var e = Syscalls.LastErrno();
                if (e == Errno.EINTR)
                    continue;
                throw new SyscallException("poll", "shim control socket", e);
            }
            if (pfd[1].Revents != 0)
                DrainWake();
            if (pfd[0].Revents != 0)
                return;
            if (r == 0 && left == 0)
                throw new TimeoutException("timed out waiting for supervisor-shim");
        }
    }

    private void DrainWake()
    {
        byte* b = stackalloc byte[64];
        while (LibcIo.Read(_wakeRead, b, 64) > 0)
        {
        }
    }

    public void Wake()
    {
        byte b = 1;
        LibcIo.Write(_wakeWrite, &b, 1);
    }

    public void Dispose()
    {
        if (_closed)
            return;
        _closed = true;
        Wake();
        // A receive on another thread leaves poll at once; close the fds only after it has gone, so the
        // numbers cannot be reused under it.
        var spin = new SpinWait();
        long until = Environment.TickCount64 + 5000;
        while (Volatile.Read(ref _busy) != 0 && Environment.TickCount64 < until)
            spin.SpinOnce();
        LibcIo.Close(_fd);
        _fd = -1;
        LibcIo.Close(_wakeRead);
        LibcIo.Close(_wakeWrite);
    }

    internal static ShimException DecodeError(byte[] payload)
    {
        if (payload.Length < 8)
            return new ShimException(ShimStep.Sync, Errno.EINVAL, "short error record from the shim");
        var step = (ShimStep)BinaryPrimitives.ReadInt32LittleEndian(payload);
        var errno = (Errno)BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(4));
        var detail = payload.AsSpan(8);
        int nul = detail.IndexOf((byte)0);
        if (nul >= 0)
            detail = detail[..nul];
        return new ShimException(step, errno, Encoding.UTF8.GetString(detail));
    }

    internal static int DecodePid(ShimFrame f)
    {
        if (f.Payload.Length < ShimAbi.PidMsgSize)
            throw new ShimException(ShimStep.Sync, Errno.EINVAL, $"short {f.Type} message from the shim");
        return BinaryPrimitives.ReadInt32LittleEndian(f.Payload);
    }
}
