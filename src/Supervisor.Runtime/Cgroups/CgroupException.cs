using Supervisor.Linux;

namespace Supervisor.Runtime.Cgroups;

/// <summary>A cgroup operation failed; the message is one line naming the file (and value) involved.</summary>
public class CgroupException : Exception
{
    public CgroupException(string message, string? path = null, Errno errno = Errno.None, Exception? inner = null)
        : base(message, inner)
    {
        FilePath = path;
        Errno = errno;
    }

    /// <summary>The file or directory involved, when there is one.</summary>
    public string? FilePath { get; }

    public Errno Errno { get; }
}

/// <summary>A stats file could not be parsed.</summary>
public sealed class CgroupStatsException : CgroupException
{
    public CgroupStatsException(string path, string line, string problem)
        : base($"cgroup stats {path}: {problem} in line \"{line}\"", path)
    {
        Line = line;
    }

    public string Line { get; }
}
