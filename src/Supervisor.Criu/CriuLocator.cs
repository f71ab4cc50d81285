namespace Supervisor.Criu;

/// <summary>
/// Finds the criu binary: the --criu flag, then the configured path, then the project's private
/// install (scripts/install-criu.sh), then `criu` on PATH.
/// </summary>
public static class CriuLocator
{
    public const string PrivateInstall = "/opt/supervisor/criu/bin/criu";

    public static string Resolve(string? flag, string? configured)
    {
        foreach (var explicitPath in new[] { flag, configured })
        {
            if (string.IsNullOrEmpty(explicitPath))
                continue;
            if (!File.Exists(explicitPath))
                throw new CriuException("lookup", $"{explicitPath} does not exist");
            return Path.GetFullPath(explicitPath);
        }
        if (File.Exists(PrivateInstall))
            return PrivateInstall;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            if (dir.Length == 0)
                continue;
            var candidate = Path.Combine(dir, "criu");
            if (File.Exists(candidate))
                return candidate;
        }
        throw new CriuException("lookup", $"criu is not installed: not at {PrivateInstall} nor on PATH (give --criu PATH, or run `make deps`)");
    }
}
