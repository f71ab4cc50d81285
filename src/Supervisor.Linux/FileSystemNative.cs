using System.Runtime.InteropServices;

namespace Supervisor.Linux;

/// <summary>File-system calls that System.IO does not expose with the semantics the runtime needs.</summary>
public static partial class FileSystemNative
{
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY = 0x10000;
    private const int O_CLOEXEC = 0x80000;

    /// <summary>mkdir(2): fails with EEXIST when the directory is already there (Directory.CreateDirectory does not).</summary>
    public static void MkdirExclusive(string path, uint mode)
    {
        if (mkdir(path, mode) != 0)
            throw new SyscallException("mkdir", path, (Errno)Marshal.GetLastPInvokeError());
        // mkdir(2) applies the umask; the runtime's directories need their exact mode.
        if (chmod(path, mode) != 0)
            throw new SyscallException("chmod", path, (Errno)Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// fsync of a directory, so that a rename inside it survives a crash: without it the new directory
    /// entry may still be only in memory when the power goes.
    /// </summary>
    public static void FsyncDirectory(string dir)
    {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            throw new SyscallException("open", dir, (Errno)Marshal.GetLastPInvokeError());
        try
        {
            if (fsync(fd) != 0)
                throw new SyscallException("fsync", dir, (Errno)Marshal.GetLastPInvokeError());
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>open(O_RDONLY|O_DIRECTORY|O_CLOEXEC): a directory handle (e.g. a cgroup for bpf attach).</summary>
    public static Microsoft.Win32.SafeHandles.SafeFileHandle OpenDirectory(string path)
    {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            throw new SyscallException("open", path, (Errno)Marshal.GetLastPInvokeError());
        return new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int mkdir(string path, uint mode);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int chmod(string path, uint mode);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
