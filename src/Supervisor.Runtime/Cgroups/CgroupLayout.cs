namespace Supervisor.Runtime.Cgroups;

/// <summary>How the host's cgroup controllers are mounted.</summary>
public enum CgroupMode
{
    /// <summary>Only cgroup v1 hierarchies.</summary>
    V1,
    /// <summary>Only the unified cgroup2 hierarchy.</summary>
    V2,
    /// <summary>v1 hierarchies plus a cgroup2 mount; each controller lives on exactly one of them.</summary>
    Hybrid,
}

/// <summary>One mounted v1 hierarchy (possibly several co-mounted controllers, e.g. "cpu,cpuacct").</summary>
/// <param name="Mountpoint">Where the hierarchy is mounted, e.g. /sys/fs/cgroup/memory.</param>
/// <param name="Root">The hierarchy path visible at the mountpoint (mountinfo field 4), "/" on a host.</param>
/// <param name="OwnPath">This process's cgroup in the hierarchy, from /proc/self/cgroup.</param>
/// <param name="Controllers">Controllers of this hierarchy; a named hierarchy appears as "name=systemd".</param>
public sealed record CgroupHierarchy(string Mountpoint, string Root, string OwnPath, IReadOnlyList<string> Controllers)
{
    /// <summary>The directory of this process's own cgroup under the mountpoint.</summary>
    public string OwnDirectory => CgroupLayout.JoinUnder(Mountpoint, CgroupLayout.RelativeTo(Root, OwnPath));
}

/// <summary>The cgroup2 mount.</summary>
/// <param name="Controllers">Controllers enabled on the unified root (cgroup.controllers) that are not
/// claimed by a v1 hierarchy, i.e. those this runtime drives through cgroup v2.</param>
public sealed record UnifiedHierarchy(string Mountpoint, string Root, string OwnPath, IReadOnlyList<string> Controllers)
{
    public string OwnDirectory => CgroupLayout.JoinUnder(Mountpoint, CgroupLayout.RelativeTo(Root, OwnPath));
}

/// <summary>
/// Where every cgroup controller lives, from /proc/self/mountinfo and /proc/self/cgroup. A controller
/// mounted as v1 is driven through v1 even when a cgroup2 mount exists (the kernel lets a controller be
/// bound to only one hierarchy, and a v1 mount takes it away from cgroup2).
/// </summary>
public sealed class CgroupLayout
{
    /// <summary>The controllers this runtime knows about.</summary>
    public static readonly IReadOnlyList<string> KnownControllers =
    [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb",
        "net_cls", "net_prio", "perf_event", "rdma", "misc",
    ];

    private readonly Dictionary<string, CgroupHierarchy> _v1;

    private CgroupLayout(CgroupMode mode, Dictionary<string, CgroupHierarchy> v1, UnifiedHierarchy? unified)
    {
        Mode = mode;
        _v1 = v1;
        Unified = unified;
    }

    public CgroupMode Mode { get; }

    /// <summary>v1 hierarchies keyed by controller (co-mounted controllers share one entry; named
    /// hierarchies are keyed "name=X").</summary>
    public IReadOnlyDictionary<string, CgroupHierarchy> V1 => _v1;

    /// <summary>The cgroup2 mount, if any.</summary>
    public UnifiedHierarchy? Unified { get; }

    /// <summary>True when <paramref name="controller"/> is on a v1 hierarchy.</summary>
    public bool IsV1(string controller) => _v1.ContainsKey(controller);

    /// <summary>True when <paramref name="controller"/> is driven through the unified hierarchy.</summary>
    public bool IsV2(string controller) => !_v1.ContainsKey(controller) && Unified is { } u && u.Controllers.Contains(controller);

    /// <summary>Reads the live files. The cgroup2 controllers come from cgroup.controllers at its mountpoint.</summary>
    public static CgroupLayout Detect(string mountinfoPath = "/proc/self/mountinfo", string procCgroupPath = "/proc/self/cgroup") =>
        Parse(File.ReadAllText(mountinfoPath), File.ReadAllText(procCgroupPath), null);

    /// <summary>
    /// Builds the layout from file contents. <paramref name="unifiedControllers"/> is the text of the cgroup2
    /// root's cgroup.controllers; when null it is read from the mountpoint found in the mountinfo (absent = none).
    /// </summary>
    public static CgroupLayout Parse(string mountinfo, string procCgroup, string? unifiedControllers = null)
    {
        var own = ParseProcCgroup(procCgroup);
        var v1 = new Dictionary<string, CgroupHierarchy>(StringComparer.Ordinal);
        (string Mountpoint, string Root)? cgroup2 = null;

        foreach (var line in mountinfo.Split('\n'))
        {
            if (line.Length == 0)
                continue;
            // id parent maj:min root mountpoint options [optional...] - fstype source superoptions
            var fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-");
            if (dash < 6 || dash + 3 >= fields.Length)
                throw new FormatException($"mountinfo: malformed line: {line}");
            string fstype = fields[dash + 1];
            string root = Unescape(fields[3]);
            string mountpoint = Unescape(fields[4]);
            if (fstype == "cgroup2")
            {
                cgroup2 ??= (mountpoint, root);
                continue;
            }
            if (fstype != "cgroup")
                continue;
            var controllers = new List<string>();
            foreach (var opt in fields[dash + 3].Split(','))
            {
                if (KnownControllers.Contains(opt) || opt.StartsWith("name=", StringComparison.Ordinal))
                    controllers.Add(opt);
            }
            if (controllers.Count == 0)
                continue;
            // The same hierarchy may be bind-mounted more than once; the first mount wins.
            if (controllers.Any(v1.ContainsKey))
                continue;
            string key = string.Join(',', controllers.Order(StringComparer.Ordinal));
            string ownPath = FindOwnPath(own, controllers) ?? "/";
            var h = new CgroupHierarchy(mountpoint, root, ownPath, controllers);
            foreach (var c in controllers)
                v1[c] = h;
        }

        UnifiedHierarchy? unified = null;
        if (cgroup2 is { } m)
        {
            string text = unifiedControllers ?? ReadOptional(Path.Combine(m.Mountpoint, "cgroup.controllers"));
            var ctrls = text.Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)
                .Where(c => !v1.ContainsKey(c))
                .ToList();
            own.TryGetValue("", out var ownV2);
            unified = new UnifiedHierarchy(m.Mountpoint, m.Root, ownV2 ?? "/", ctrls);
        }

        var mode = (v1.Count, unified) switch
        {
            (0, not null) => CgroupMode.V2,
            (_, null) => CgroupMode.V1,
            _ => CgroupMode.Hybrid,
        };
        if (v1.Count == 0 && unified is null)
            throw new InvalidOperationException("no cgroup hierarchy is mounted (no cgroup or cgroup2 entry in mountinfo)");
        return new CgroupLayout(mode, v1, unified);
    }

    /// <summary>
    /// Parses /proc/self/cgroup ("hierarchy-id:controller,list:path"); keys are each controller (including
    /// "name=X") and "" for the cgroup2 line.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ParseProcCgroup(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0)
                continue;
            int a = line.IndexOf(':');
            int b = a < 0 ? -1 : line.IndexOf(':', a + 1);
            if (b < 0)
                throw new FormatException($"/proc/self/cgroup: malformed line: {line}");
            string list = line[(a + 1)..b];
            string path = line[(b + 1)..];
            if (list.Length == 0)
                result[""] = path;
            else
                foreach (var c in list.Split(','))
                    result[c] = path;
        }
        return result;
    }

    private static string? FindOwnPath(IReadOnlyDictionary<string, string> own, List<string> controllers)
    {
        foreach (var c in controllers)
            if (own.TryGetValue(c, out var p))
                return p;
        return null;
    }

    private static string ReadOptional(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo octal.</summary>
    internal static string Unescape(string s)
    {
        if (!s.Contains('\\'))
            return s;
        var sb = new System.Text.StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1) && IsOctal(s, i + 2) && IsOctal(s, i + 3))
            {
                sb.Append((char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0')));
                i += 3;
            }
            else
            {
                sb.Append(s[i]);
            }
        }
        return sb.ToString();
    }

    private static bool IsOctal(string s, int i) => i < s.Length && s[i] >= '0' && s[i] <= '7';

    /// <summary><paramref name="path"/> relative to the hierarchy root <paramref name="root"/> visible at the
    /// mountpoint; a path outside the root (another namespace's view) falls back to the root itself.</summary>
    internal static string RelativeTo(string root, string path)
    {
        root = root.TrimEnd('/');
        if (root.Length == 0)
            return path.TrimStart('/');
        if (path == root)
            return "";
        if (path.StartsWith(root + "/", StringComparison.Ordinal))
            return path[(root.Length + 1)..];
        return "";
    }

    internal static string JoinUnder(string mountpoint, string relative)
    {
        relative = relative.Trim('/');
        return relative.Length == 0 ? mountpoint : mountpoint.TrimEnd('/') + "/" + relative;
    }
}
