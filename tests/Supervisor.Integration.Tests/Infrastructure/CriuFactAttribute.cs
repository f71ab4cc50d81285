using System.Diagnostics;

namespace Supervisor.Integration.Tests.Infrastructure;

/// <summary>
/// A root test that also needs a working CRIU ($SUPERVISOR_CRIU, or the private install). It is skipped,
/// with criu's own reason, only when `criu check` fails on this kernel.
/// </summary>
public sealed class CriuFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Problem = new(Check);

    public static string CriuPath => Environment.GetEnvironmentVariable("SUPERVISOR_CRIU") is { Length: > 0 } p
        ? p
        : "/opt/supervisor/criu/bin/criu";

    private static readonly Lazy<(int Code, string Output)> DirtyTrackingCheck = new(() => Run("check --feature mem_dirty_track"));

    public CriuFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root: checkpoint and restore of containers";
        else if (Problem.Value is { } reason)
            Skip = reason;
    }

    /// <summary>True when the kernel has soft-dirty memory tracking, which pre-dumps need.</summary>
    public static bool HasDirtyTracking => DirtyTrackingCheck.Value.Code == 0;

    /// <summary>The test needs soft-dirty memory tracking (pre-dump); without it the kernel lacks the feature.</summary>
    public bool NeedsDirtyTracking
    {
        get => false;
        init
        {
            if (value && Skip is null && !HasDirtyTracking)
                Skip = "the kernel has no soft-dirty memory tracking (CONFIG_MEM_SOFT_DIRTY), so CRIU cannot pre-dump; " +
                    $"`criu check --feature mem_dirty_track` says: {DirtyTrackingCheck.Value.Output.Split('\n').LastOrDefault()}";
        }
    }

    private static (int Code, string Output) Run(string args)
    {
        var psi = new ProcessStartInfo(CriuPath, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var outText = p.StandardOutput.ReadToEndAsync();
        var errText = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, (outText.Result + errText).Trim());
    }

    private static string? Check()
    {
        if (!File.Exists(CriuPath))
            return $"criu check failed: {CriuPath} does not exist (run `make deps`)";
        var (code, all) = Run("check");
        return code == 0 && all.Contains("Looks good", StringComparison.Ordinal)
            ? null
            : $"criu check failed on this kernel: {all.Split('\n').LastOrDefault()}";
    }
}
