using System.Security.Cryptography;

namespace Supervisor.Security.Tests.Infrastructure;

/// <summary>
/// What an escape would change on the host, taken before and after an attack: the sha256 of the runtime's
/// binaries and of the host busybox, the host mount table, and a full listing (with content hashes) of the
/// watched directories, plus the absence of paths that must never appear.
/// </summary>
public sealed class HostSnapshot
{
    private readonly Dictionary<string, string> _hashes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _mounts;
    private readonly Dictionary<string, string> _trees = new(StringComparer.Ordinal);
    private readonly string[] _mustNotExist;

    private HostSnapshot(IEnumerable<string> watched, string[] mustNotExist)
    {
        foreach (var bin in Binaries)
            _hashes[bin] = HashFile(bin);
        _mounts = MountLines();
        foreach (var dir in watched)
            _trees[dir] = Tree(dir);
        _mustNotExist = mustNotExist;
        foreach (var p in mustNotExist)
            Assert.False(Path.Exists(p), $"{p} exists before the attack: pick another name");
    }

    /// <summary>The runtime's own binaries and the host's busybox (what an exe-overwrite would hit).</summary>
    public static IReadOnlyList<string> Binaries =>
    [
        TestPaths.Cli,
        Path.Combine(TestPaths.BinDir, "supervisor-shim"),
        "/bin/busybox",
    ];

    public static HostSnapshot Take(IEnumerable<string>? watchedDirs = null, params string[] mustNotExist) =>
        new(watchedDirs ?? [], mustNotExist);

    /// <summary>Fails when a binary, a watched tree or the mount table changed, or a forbidden path appeared.</summary>
    public void AssertUnchanged()
    {
        foreach (var (bin, hash) in _hashes)
            Assert.True(hash == HashFile(bin), $"{bin} changed during the attack");
        foreach (var (dir, tree) in _trees)
            Assert.True(tree == Tree(dir), $"host directory {dir} changed:\nbefore:\n{tree}\nafter:\n{Tree(dir)}");
        foreach (var p in _mustNotExist)
            Assert.False(Path.Exists(p), $"{p} was created on the host");
        var added = MountLines().Where(l => !_mounts.Contains(l)).Where(IsHostRelevant).ToList();
        Assert.True(added.Count == 0, "mounts appeared on the host:\n" + string.Join('\n', added));
    }

    /// <summary>
    /// Mounts that an escape would create: on the host's system directories, in /tmp (bundles, canaries) or
    /// under /run. Other mounts may come and go with unrelated activity on the machine.
    /// </summary>
    private static bool IsHostRelevant(string line)
    {
        var mp = line.Split(' ')[1];
        string[] roots = ["/etc", "/usr", "/bin", "/sbin", "/lib", "/root", "/var/lib", "/tmp", "/run", "/home"];
        return mp is "/" or "/proc" or "/sys" or "/dev" || roots.Any(r => mp == r || mp.StartsWith(r + "/", StringComparison.Ordinal));
    }

    /// <summary>"root mountpoint fstype source" of every mount of the test process's (the host's) namespace.</summary>
    private static HashSet<string> MountLines()
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines("/proc/self/mountinfo"))
        {
            var f = line.Split(' ');
            int dash = Array.IndexOf(f, "-");
            set.Add($"{f[3]} {f[4]} {f[dash + 1]} {f[dash + 2]}");
        }
        return set;
    }

    private static string HashFile(string path) =>
        File.Exists(path) ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))) : "absent";

    /// <summary>Every entry under <paramref name="dir"/>: path, type, mode and link target, then the content
    /// hash of every regular file. find never follows symlinks (an escape may plant /proc links) and
    /// never opens device nodes or fifos.</summary>
    public static string Tree(string dir)
    {
        if (!Directory.Exists(dir))
            return "absent";
        var q = Shell.Quote(dir);
        var r = Shell.Run($"cd {q} && find . -printf '%P %y %m %l\\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum");
        if (r.ExitCode != 0)
            throw new InvalidOperationException("listing " + dir + " failed: " + r);
        return r.Stdout;
    }
}

/// <summary>A host directory under /tmp with a file in it, which no container may touch.</summary>
public sealed class Canary : IDisposable
{
    public Canary(string prefix = "svsec-canary")
    {
        Dir = Path.Combine("/tmp", prefix + "-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Dir);
        File.WriteAllText(Path.Combine(Dir, "canary"), "host data " + Guid.NewGuid());
    }

    public string Dir { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
