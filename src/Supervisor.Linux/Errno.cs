namespace Supervisor.Linux;

/// <summary>
/// Linux errno values (x86_64 and aarch64 share them). Code above the interop layer compares against
/// this enum, never against raw integers.
/// </summary>
public enum Errno
{
    None = 0,
    EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7, ENOEXEC = 8, EBADF = 9,
    ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14, ENOTBLK = 15, EBUSY = 16, EEXIST = 17,
    EXDEV = 18, ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENFILE = 23, EMFILE = 24, ENOTTY = 25,
    ETXTBSY = 26, EFBIG = 27, ENOSPC = 28, ESPIPE = 29, EROFS = 30, EMLINK = 31, EPIPE = 32, EDOM = 33,
    ERANGE = 34, EDEADLK = 35, ENAMETOOLONG = 36, ENOLCK = 37, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40,
    ENOMSG = 42, ENODATA = 61, EMSGSIZE = 90, ETIME = 62, EOVERFLOW = 75, EBADFD = 77, EOPNOTSUPP = 95, EADDRINUSE = 98,
    ECONNREFUSED = 111, ECONNRESET = 104, ENOTCONN = 107, ETIMEDOUT = 110, ECANCELED = 125,
}

/// <summary>A failed system call: the operation, the path or object it acted on, and errno.</summary>
public sealed class SyscallException : Exception
{
    public SyscallException(string operation, string? path, Errno errno)
        : base(Format(operation, path, errno))
    {
        Operation = operation;
        Path = path;
        Errno = errno;
    }

    public string Operation { get; }
    public string? Path { get; }
    public Errno Errno { get; }

    private static string Format(string op, string? path, Errno errno)
    {
        var text = Describe(errno);
        return string.IsNullOrEmpty(path) ? $"{op}: {text}" : $"{op} {path}: {text}";
    }

    /// <summary>The strerror(3) text for the common values, so messages read like runc's.</summary>
    public static string Describe(Errno errno) => errno switch
    {
        Errno.EPERM => "operation not permitted",
        Errno.ENOENT => "no such file or directory",
        Errno.ESRCH => "no such process",
        Errno.EINTR => "interrupted system call",
        Errno.EIO => "input/output error",
        Errno.EBADF => "bad file descriptor",
        Errno.ECHILD => "no child processes",
        Errno.EAGAIN => "resource temporarily unavailable",
        Errno.ENOMEM => "cannot allocate memory",
        Errno.EACCES => "permission denied",
        Errno.EBUSY => "device or resource busy",
        Errno.EEXIST => "file exists",
        Errno.EXDEV => "invalid cross-device link",
        Errno.ENODEV => "no such device",
        Errno.ENOTDIR => "not a directory",
        Errno.EISDIR => "is a directory",
        Errno.EINVAL => "invalid argument",
        Errno.EMFILE => "too many open files",
        Errno.ENOSPC => "no space left on device",
        Errno.EROFS => "read-only file system",
        Errno.EPIPE => "broken pipe",
        Errno.ERANGE => "numerical result out of range",
        Errno.ENAMETOOLONG => "file name too long",
        Errno.ENOSYS => "function not implemented",
        Errno.ENOTEMPTY => "directory not empty",
        Errno.ELOOP => "too many levels of symbolic links",
        Errno.EOPNOTSUPP => "operation not supported",
        Errno.ECONNREFUSED => "connection refused",
        Errno.ETIMEDOUT => "connection timed out",
        Errno.ENOEXEC => "exec format error",
        _ => $"errno {(int)errno}",
    };
}
