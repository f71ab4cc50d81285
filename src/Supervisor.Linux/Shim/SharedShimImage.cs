using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Supervisor.Linux.Interop;
using Supervisor.Linux.Seccomp;

namespace Supervisor.Linux.Shim;

/// <summary>
/// One sealed memfd copy of the shim binary for a long-lived process (the daemon) to start all its shims
/// from. A shim protects the host binary from a container process that opens /proc/PID/exe
/// (CVE-2019-5736) by running from a memfd sealed against writes, shrinking and growing; started from a
/// path it makes that copy itself, a private 0.8 MiB of shmem per shim. Started from this copy (through
/// /proc/PID/fd/N, which execve resolves to the memfd), it finds its executable already sealed and does
/// not copy again, so all shims map the same pages and the copy is in memory once.
/// </summary>
public sealed class SharedShimImage : IDisposable
{
    private const uint MFD_CLOEXEC = 0x1;
    private const uint MFD_ALLOW_SEALING = 0x2;
    private const uint MFD_EXEC = 0x10;
    private const int F_ADD_SEALS = 1033;
    private const int F_SEAL_SEAL = 0x1;
    private const int F_SEAL_SHRINK = 0x2;
    private const int F_SEAL_GROW = 0x4;
    private const int F_SEAL_WRITE = 0x8;
    private const int F_SEAL_EXEC = 0x20;

    private readonly SafeFileHandle _memfd;

    private SharedShimImage(SafeFileHandle memfd, string source)
    {
        _memfd = memfd;
        Source = source;
        ExecPath = $"/proc/{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}/fd/{memfd.DangerousGetHandle().ToInt32().ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>The binary the copy was made from.</summary>
    public string Source { get; }

    /// <summary>The path to start shims from (valid while this object lives).</summary>
    public string ExecPath { get; }

    public static SharedShimImage Create(string shimPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(shimPath);
        // MFD_EXEC says that the copy is meant to be executed (kernels >= 6.3 warn otherwise; older ones reject it).
        int fd = LibSeccomp.MemfdCreate("supervisor-shim", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
        if (fd < 0 && (Errno)Marshal.GetLastPInvokeError() == Errno.EINVAL)
            fd = LibSeccomp.MemfdCreate("supervisor-shim", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
            throw new SyscallException("memfd_create", shimPath, (Errno)Marshal.GetLastPInvokeError());
        var memfd = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            var bytes = File.ReadAllBytes(shimPath);
            RandomAccess.Write(memfd, bytes, 0);
            // F_SEAL_EXEC (no chmod of the copy) is newer than the others; they suffice without it.
            const int Seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
            if (LibcIo.Fcntl(fd, F_ADD_SEALS, Seals | F_SEAL_EXEC) < 0 && LibcIo.Fcntl(fd, F_ADD_SEALS, Seals) < 0)
                throw new SyscallException("fcntl(F_ADD_SEALS)", shimPath, (Errno)Marshal.GetLastPInvokeError());
            return new SharedShimImage(memfd, shimPath);
        }
        catch
        {
            memfd.Dispose();
            throw;
        }
    }

    public void Dispose() => _memfd.Dispose();
}
