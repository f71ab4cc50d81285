namespace Supervisor.Integration.Tests.Infrastructure;

/// <summary>Where the built artifacts are: $SUPERVISOR_BIN / $SUPERVISOR_ROOTFS, or the repo's artifacts/.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> RepoRootLazy = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Supervisor.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root (Supervisor.sln) not found");
    });

    public static string RepoRoot => RepoRootLazy.Value;

    public static string BinDir => Environment.GetEnvironmentVariable("SUPERVISOR_BIN") is { Length: > 0 } b
        ? b
        : Path.Combine(RepoRoot, "artifacts", "bin");

    public static string Cli => Path.Combine(BinDir, "supervisor");

    /// <summary>The pristine busybox rootfs built by `make rootfs` (scripts/make-rootfs.sh).</summary>
    public static string Rootfs
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("SUPERVISOR_ROOTFS");
            var path = env is { Length: > 0 } ? env : Path.Combine(RepoRoot, "artifacts", "rootfs");
            if (!File.Exists(Path.Combine(path, "bin", "busybox")))
            {
                var psi = new System.Diagnostics.ProcessStartInfo(Path.Combine(RepoRoot, "scripts", "make-rootfs.sh"), path);
                using var p = System.Diagnostics.Process.Start(psi)!;
                p.WaitForExit();
            }
            return path;
        }
    }
}
