using Supervisor.Linux;

namespace Supervisor.Runtime.Cgroups;

/// <summary>
/// File access for cgroup managers. The kernel side (files appearing on mkdir, rmdir of a directory full of
/// control files, state files changing on their own) differs from a plain directory tree, so unit tests
/// substitute a subclass that simulates it over a temp dir.
/// </summary>
internal class CgroupIo
{
    public static readonly CgroupIo Real = new();

    /// <summary>Writes <paramref name="value"/> in one write(2) without creating the file, as cgroupfs requires.</summary>
    public virtual void Write(string path, string value)
    {
        try
        {
            using var fs = new FileStream(path, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            fs.Write(System.Text.Encoding.UTF8.GetBytes(value));
        }
        catch (Exception e) when (ToErrno(e) is { } errno)
        {
            throw new CgroupException($"cgroup {System.IO.Path.GetFileName(path)}={value}: {SyscallException.Describe(errno)}",
                path, errno, new SyscallException("write", path, errno));
        }
    }

    /// <summary>The file's text, or null when it does not exist.</summary>
    public virtual string? ReadOptional(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (ToErrno(e) is Errno.ENOENT or Errno.ENODEV)
        {
            return null;
        }
        catch (Exception e) when (ToErrno(e) is { } errno)
        {
            throw new CgroupException($"cgroup read {path}: {SyscallException.Describe(errno)}", path, errno,
                new SyscallException("read", path, errno));
        }
    }

    public string Read(string path) =>
        ReadOptional(path) ?? throw new CgroupException($"cgroup read {path}: {SyscallException.Describe(Errno.ENOENT)}", path, Errno.ENOENT);

    public virtual bool FileExists(string path) => File.Exists(path);

    public virtual bool DirectoryExists(string path) => Directory.Exists(path);

    /// <summary>mkdir(2) of one level; false when it already existed.</summary>
    public virtual bool CreateDirectory(string path)
    {
        if (Directory.Exists(path))
            return false;
        try
        {
            Directory.CreateDirectory(path);
            return true;
        }
        catch (Exception e) when (ToErrno(e) is { } errno)
        {
            throw new CgroupException($"cgroup mkdir {path}: {SyscallException.Describe(errno)}", path, errno,
                new SyscallException("mkdir", path, errno));
        }
    }

    /// <summary>rmdir(2); returns the errno (None on success).</summary>
    public virtual Errno RemoveDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: false);
            return Errno.None;
        }
        catch (Exception e) when (ToErrno(e) is { } errno)
        {
            return errno;
        }
    }

    public virtual IEnumerable<string> SubDirectories(string path)
    {
        try
        {
            return Directory.GetDirectories(path);
        }
        catch (Exception e) when (ToErrno(e) is Errno.ENOENT)
        {
            return [];
        }
    }

    public virtual IEnumerable<string> Files(string path)
    {
        try
        {
            return Directory.GetFiles(path).Select(f => System.IO.Path.GetFileName(f));
        }
        catch (Exception e) when (ToErrno(e) is Errno.ENOENT)
        {
            return [];
        }
    }

    /// <summary>
    /// Puts the compiled device program on the cgroup2 directory <paramref name="dir"/>, replacing the
    /// one attached before (<see cref="Supervisor.Linux.Bpf.CgroupDeviceProgram.Replace"/>).
    /// </summary>
    public virtual void AttachDeviceProgram(string dir, ulong[] instructions)
    {
        try
        {
            Supervisor.Linux.Bpf.CgroupDeviceProgram.Replace(dir, instructions, DeviceFilter.License);
        }
        catch (SyscallException e)
        {
            throw new CgroupException($"cgroup device program on {dir}: {e.Message}", dir, e.Errno, e);
        }
    }

    /// <summary>Pauses between polls of a state file.</summary>
    public virtual void Sleep(TimeSpan t) => Thread.Sleep(t);

    /// <summary>The errno behind a .NET I/O exception: on Linux an unmapped IOException carries it as HResult.</summary>
    internal static Errno? ToErrno(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => Errno.ENOENT,
        UnauthorizedAccessException => Errno.EACCES,
        PathTooLongException => Errno.ENAMETOOLONG,
        IOException io when io.HResult is > 0 and < 4096 => (Errno)io.HResult,
        IOException => Errno.EIO,
        _ => null,
    };
}
