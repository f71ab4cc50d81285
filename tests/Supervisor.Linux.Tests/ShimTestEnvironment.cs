using System.Diagnostics;

namespace Supervisor.Linux.Tests;

/// <summary>Locates the built shim and runs small helper programs for the tests.</summary>
internal static class ShimTestEnvironment
{
    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Supervisor.sln")))
                dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("Supervisor.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>$SUPERVISOR_SHIM, else &lt;repo&gt;/artifacts/bin/supervisor-shim (built by `make native`).</summary>
    public static string ShimPath
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("SUPERVISOR_SHIM");
            var path = !string.IsNullOrEmpty(env) ? env : Path.Combine(RepoRoot, "artifacts", "bin", "supervisor-shim");
            if (!File.Exists(path))
                throw new InvalidOperationException($"{path} is missing: build it with cmake (see native/CMakeLists.txt)");
            return path;
        }
    }

    public static (int Code, string Stdout, string Stderr) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr);
    }

    public static string TempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
