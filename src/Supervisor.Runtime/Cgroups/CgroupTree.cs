using System.Globalization;
using Supervisor.Linux;

namespace Supervisor.Runtime.Cgroups;

/// <summary>Directory operations shared by the v1 and v2 managers.</summary>
internal static class CgroupTree
{
    /// <summary>Backoff between rmdir rounds while tasks drain out; about a second in total.</summary>
    private static readonly int[] RemoveDelaysMs = [10, 20, 40, 80, 160, 320, 400];

    /// <summary>mkdir -p; returns the directories it created, parents first.</summary>
    public static List<string> MakeAll(CgroupIo io, string dir)
    {
        var missing = new Stack<string>();
        for (var d = dir; !string.IsNullOrEmpty(d) && !io.DirectoryExists(d); d = Path.GetDirectoryName(d))
            missing.Push(d);
        var created = new List<string>();
        while (missing.TryPop(out var d))
            if (io.CreateDirectory(d))
                created.Add(d);
        return created;
    }

    /// <summary>Best-effort removal of directories this manager created (used to undo a failed Create).</summary>
    public static void RemoveCreated(CgroupIo io, IEnumerable<string> created)
    {
        foreach (var d in created.OrderByDescending(d => d.Length))
            io.RemoveDirectory(d);
    }

    /// <summary>
    /// Removes each directory and every sub-cgroup below it, deepest first. rmdir fails with EBUSY while a
    /// task is still leaving (an exiting process stays a member until it is reaped), so busy directories are
    /// retried with backoff; ENOENT means already gone. Throws once, listing what is left.
    /// </summary>
    public static void RemoveAll(CgroupIo io, IEnumerable<string> roots)
    {
        var failures = new Dictionary<string, Errno>(StringComparer.Ordinal);
        for (int round = 0; ; round++)
        {
            failures.Clear();
            var all = new List<string>();
            foreach (var root in roots.Distinct(StringComparer.Ordinal))
                Collect(io, root, all);
            foreach (var d in all.OrderByDescending(d => d.Count(ch => ch == '/')).ThenByDescending(d => d, StringComparer.Ordinal))
            {
                var errno = io.RemoveDirectory(d);
                if (errno is not (Errno.None or Errno.ENOENT))
                    failures[d] = errno;
            }
            bool retryable = failures.Count > 0 && failures.Values.All(e => e is Errno.EBUSY or Errno.ENOTEMPTY);
            if (!retryable || round >= RemoveDelaysMs.Length)
                break;
            io.Sleep(TimeSpan.FromMilliseconds(RemoveDelaysMs[round]));
        }
        if (failures.Count > 0)
        {
            var list = string.Join(", ", failures.OrderBy(f => f.Key, StringComparer.Ordinal)
                .Select(f => $"{f.Key} ({SyscallException.Describe(f.Value)})"));
            throw new CgroupException($"cgroup destroy: could not remove {list}", failures.Keys.First(), failures.Values.First());
        }
    }

    private static void Collect(CgroupIo io, string dir, List<string> into)
    {
        if (!io.DirectoryExists(dir))
            return;
        into.Add(dir);
        foreach (var sub in io.SubDirectories(dir))
            Collect(io, sub, into);
    }

    /// <summary>Pids from cgroup.procs of <paramref name="dir"/> (and every sub-cgroup when recursive).</summary>
    public static List<int> ReadPids(CgroupIo io, string dir, bool recursive)
    {
        var pids = new List<int>();
        void Read(string d)
        {
            var path = Path.Combine(d, "cgroup.procs");
            var text = io.ReadOptional(path);
            if (text is null)
                return;
            foreach (var raw in text.Split('\n'))
            {
                var line = raw.Trim();
                if (line.Length == 0)
                    continue;
                if (!int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    throw new CgroupException($"cgroup {path}: \"{line}\" is not a pid", path);
                pids.Add(pid);
            }
            if (recursive)
                foreach (var sub in io.SubDirectories(d).Order(StringComparer.Ordinal))
                    Read(sub);
        }
        Read(dir);
        return pids;
    }

    /// <summary>Polls until <paramref name="done"/> holds or the deadline passes; true when it held.</summary>
    public static bool Poll(CgroupIo io, TimeSpan timeout, Func<bool> done, Action? retry = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            if (done())
                return true;
            if (DateTime.UtcNow >= deadline)
                return false;
            retry?.Invoke();
            io.Sleep(delay);
            if (delay < TimeSpan.FromMilliseconds(50))
                delay *= 2;
        }
    }
}
